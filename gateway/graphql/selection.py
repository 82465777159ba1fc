"""One expanded view of an operation: what it selects, fragments opened by one rule.

The scope check (`access`), the cost estimate (`cost`), the reads started ahead
(`prefetch`) and a subscription's choice of what to complete (`subscription`)
all read the same view, so they agree on what an operation selects:

- a fragment (named or inline) applies where its type condition overlaps the
  type it is spread on (graphql-core's rule for execution);
- `@skip(if:)` and `@include(if:)` drop a selection when their condition says
  so: a literal at once, a variable per request; where the variables are not
  known (a per-document decision), the selection counts;
- a selection under `@defer` (unless `if: false`) is marked deferred.

A view depends only on the document's text and operation, so it is built once
and kept with the parsed document (`documents.DocumentCache.view`). It is a
graph, not a tree: each selection set is expanded once however many times it
is spread, so a "fragment bomb" costs its size, and a walk that goes through
every spread bounds its own visits (`cost.MAX_VISITS`). Arguments are coerced
as execution coerces them: once when they are literals, per request when they
name a variable (`Field.arguments`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    VariableNode,
    do_types_overlap,
    get_argument_values,
    get_named_type,
    is_composite_type,
)
from graphql.execution.values import VariableValues
from graphql.language import Visitor, visit

__all__ = [
    "Field",
    "Fragment",
    "OperationView",
    "Selection",
    "Variables",
    "applies",
    "expand",
    "fields",
    "included",
]

#: Each `@skip`/`@include` on a selection whose `if` names a variable: (the
#: variable, the value that keeps the selection).
Conditions = tuple[tuple[str, bool], ...]

#: A request's variables as execution coerced them (graphql-core's `VariableValues`,
#: or their values alone); None where they are not known (a per-document decision).
Variables = VariableValues | Mapping[str, Any] | None

_KEEP_WHEN: Final = {"include": True, "skip": False}
#: The root query's introspection fields.
_META_ROOTS: Final = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}


@dataclass(eq=False, slots=True)
class Field:
    """One field node of the operation, on the type it is selected on."""

    node: FieldNode
    #: The response key: its alias, else its name.
    key: str
    name: str
    #: The type it is selected on: the innermost fragment's condition, else its parent's.
    parent: GraphQLNamedType
    #: None for `__typename` and what validation refuses.
    definition: GraphQLField | None
    conditions: Conditions
    #: A literal `@skip(if: true)` or `@include(if: false)`: it never runs.
    dropped: bool = False
    #: The selection below it, on its named type (None for a leaf).
    selection: Selection | None = None
    #: Its arguments when no variable is named in them (coerced once).
    _static: dict[str, Any] | None = None

    @property
    def directives(self) -> int:
        return len(self.node.directives or ())

    def arguments(self, variables: Variables = None) -> dict[str, Any]:
        """Its arguments as execution coerces them, defaults filled in; none that do not
        coerce (execution reports those)."""
        if self._static is not None:
            return self._static
        if self.definition is None:
            return {}
        try:
            return get_argument_values(self.definition, self.node, _values(variables))
        except GraphQLError:
            return {}


@dataclass(eq=False, slots=True)
class Fragment:
    """A fragment spread or inline fragment, where it is spread."""

    #: Its type condition; None when it has none (it is on its parent's type).
    on: GraphQLNamedType | None
    conditions: Conditions
    dropped: bool
    deferred: bool
    #: Directives on the spread and on a named fragment's definition.
    directives: int
    selection: Selection


@dataclass(eq=False, slots=True)
class Selection:
    """A selection set on one type: its fields and its fragments, in document order."""

    parent: GraphQLNamedType
    items: list[Field | Fragment] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class OperationView:
    """The operation, expanded: its root selection and each field by its node."""

    operation: OperationDefinitionNode
    root: Selection
    #: Each field node's `Field` (by the node's identity), for resolvers to find theirs.
    by_node: dict[int, Field]
    #: What the checks work out once per document and keep here (`access`).
    memo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
    ) -> OperationView | None:
        """The view of `operation`; None when the schema has no root for it."""
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return cls.of(schema, fragments, operation)

    @classmethod
    def of(
        cls,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
    ) -> OperationView | None:
        root = schema.get_root_type(operation.operation)
        if root is None:
            return None
        builder = _Builder(schema, fragments)
        selection = builder.selection(operation.selection_set, root)
        return cls(operation, selection, builder.by_node)

    def field(self, node: FieldNode) -> Field | None:
        """The expanded field of one of the operation's field nodes."""
        return self.by_node.get(id(node))


def included(item: Field | Fragment, variables: Variables) -> bool:
    """Whether a selection runs by its `@skip`/`@include`: they hold, or may (variables
    unknown)."""
    if item.dropped:
        return False
    if variables is None or not item.conditions:
        return True
    values = variables.coerced if isinstance(variables, VariableValues) else variables
    return all(values.get(name, keep) is keep for name, keep in item.conditions)


def _values(variables: Variables) -> VariableValues | None:
    if variables is None or isinstance(variables, VariableValues):
        return variables
    return VariableValues({}, dict(variables))


def expand(
    selection: Selection,
    on: GraphQLNamedType | None,
    variables: Variables,
    *,
    schema: GraphQLSchema,
    deferred: bool = True,
    met: Callable[[Field | Fragment], None] | None = None,
) -> Iterator[Field | Fragment]:
    """The fields and fragments of `selection` that apply to an object of type `on`
    (None: of any type the selection's may be), each fragment before its fields.
    Without `deferred`, what `@defer` puts off is left out. `met` sees every item on
    the way, those that do not run included (the directive count is the document's)."""
    for item in selection.items:
        if met is not None:
            met(item)
        if not included(item, variables):
            continue
        if isinstance(item, Field):
            yield item
            continue
        if item.deferred and not deferred:
            continue
        if not applies(schema, item.on, on):
            continue
        yield item
        yield from expand(item.selection, on, variables, schema=schema, deferred=deferred, met=met)


def fields(
    selection: Selection | None,
    on: GraphQLNamedType | None,
    variables: Variables,
    *,
    schema: GraphQLSchema,
    deferred: bool = True,
) -> Iterator[Field]:
    """The fields of `selection` that apply to an object of type `on` (see `expand`)."""
    if selection is None:
        return
    for item in expand(selection, on, variables, schema=schema, deferred=deferred):
        if isinstance(item, Field):
            yield item


def applies(
    schema: GraphQLSchema, condition: GraphQLNamedType | None, on: GraphQLNamedType | None
) -> bool:
    """Whether a fragment on `condition` can apply to an object of type `on`."""
    if condition is None or on is None or condition is on:
        return True
    if not (is_composite_type(condition) and is_composite_type(on)):
        return False
    return do_types_overlap(schema, condition, on)


class _Builder:
    """Expands each selection set once: a fragment spread many times shares one expansion."""

    def __init__(
        self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.by_node: dict[int, Field] = {}
        self.named: dict[str, Selection] = {}
        # Validation refuses fragment cycles; a document priced before it must not loop.
        self.open: set[str] = set()

    def selection(self, node: SelectionSetNode, parent: GraphQLNamedType) -> Selection:
        built = Selection(parent)
        for selection in node.selections:
            conditions, dropped = _conditions(selection.directives)
            if isinstance(selection, FieldNode):
                built.items.append(self.field(selection, parent, conditions, dropped))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self._type(condition.name.value) if condition is not None else None
                inner = self.selection(selection.selection_set, on or parent)
                built.items.append(
                    Fragment(
                        on,
                        conditions,
                        dropped,
                        _deferred(selection.directives),
                        len(selection.directives or ()),
                        inner,
                    )
                )
            elif isinstance(selection, FragmentSpreadNode):
                spread = self.spread(selection, conditions, dropped)
                if spread is not None:
                    built.items.append(spread)
        return built

    def field(
        self, node: FieldNode, parent: GraphQLNamedType, conditions: Conditions, dropped: bool
    ) -> Field:
        name = node.name.value
        definition = self._definition(parent, name)
        built = Field(
            node,
            node.alias.value if node.alias is not None else name,
            name,
            parent,
            definition,
            conditions,
            dropped,
        )
        if definition is not None and not _names_variables(node):
            built._static = built.arguments(None)
        if node.selection_set is not None:
            child = get_named_type(definition.type) if definition is not None else parent
            built.selection = self.selection(node.selection_set, child)
        self.by_node[id(node)] = built
        return built

    def spread(
        self, node: FragmentSpreadNode, conditions: Conditions, dropped: bool
    ) -> Fragment | None:
        name = node.name.value
        definition = self.fragments.get(name)
        if definition is None or name in self.open:
            return None  # validation reports unknown fragments and cycles
        on = self._type(definition.type_condition.name.value)
        if on is None:
            return None
        selection = self.named.get(name)
        if selection is None:
            self.open.add(name)
            try:
                selection = self.named[name] = self.selection(definition.selection_set, on)
            finally:
                self.open.discard(name)
        directives = len(node.directives or ()) + len(definition.directives or ())
        return Fragment(on, conditions, dropped, _deferred(node.directives), directives, selection)

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name)

    def _definition(self, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
        """The field `name` of `parent`; the meta fields' where they apply."""
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is self.schema.query_type and name in _META_ROOTS:
            return _META_ROOTS[name]
        fields: dict[str, GraphQLField] = getattr(parent, "fields", {})
        return fields.get(name)


def _conditions(directives: Any) -> tuple[Conditions, bool]:
    """A selection's `@skip`/`@include` on variables, and whether a literal drops it."""
    found: list[tuple[str, bool]] = []
    for directive in directives or ():
        keep = _KEEP_WHEN.get(directive.name.value)
        if keep is None:
            continue
        value = _if(directive)
        if isinstance(value, BooleanValueNode):
            if value.value is not keep:
                return (), True
        elif isinstance(value, VariableNode):
            found.append((value.name.value, keep))
    return tuple(found), False


def _deferred(directives: Any) -> bool:
    for directive in directives or ():
        if directive.name.value == "defer":
            value = _if(directive)
            return not (isinstance(value, BooleanValueNode) and not value.value)
    return False


def _if(directive: DirectiveNode) -> Any:
    for argument in directive.arguments or ():
        if argument.name.value == "if":
            return argument.value
    return None


class _NamesVariable(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_variable(self, *_: Any) -> Any:
        self.found = True
        return self.BREAK


def _names_variables(node: FieldNode) -> bool:
    """Whether any argument of the field names a variable (its value varies by request)."""
    for argument in node.arguments or ():
        if isinstance(argument.value, VariableNode):
            return True
        finder = _NamesVariable()
        visit(argument.value, finder)
        if finder.found:
            return True
    return False
