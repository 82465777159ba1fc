// Copy the GraphiQL page's scripts and styles from node_modules (installed from
// this folder's lockfile by `make graphiql-assets`) into the Python package, and
// write their manifest: package, version, source file, license, the tarball's
// integrity from the lockfile, and each copied file's SHA-256.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "..", "gateway", "static", "graphiql", "vendor");

// name in the package -> [npm package, file inside it]
const FILES = {
  "react.production.min.js": ["react", "umd/react.production.min.js"],
  "react-dom.production.min.js": ["react-dom", "umd/react-dom.production.min.js"],
  "graphiql.min.js": ["graphiql", "graphiql.min.js"],
  "graphiql.min.css": ["graphiql", "graphiql.min.css"],
  "plugin-explorer.umd.js": ["@graphiql/plugin-explorer", "dist/index.umd.js"],
  "plugin-explorer.css": ["@graphiql/plugin-explorer", "dist/style.css"],
};

const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

rmSync(target, { recursive: true, force: true });
mkdirSync(join(target, "licenses"), { recursive: true });

const packages = {};
const files = {};
for (const [name, [pkg, source]] of Object.entries(FILES)) {
  const root = join(here, "node_modules", pkg);
  if (!(pkg in packages)) {
    const meta = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const locked = lock.packages[`node_modules/${pkg}`];
    if (locked.version !== meta.version) throw new Error(`${pkg}: installed ${meta.version}, locked ${locked.version}`);
    packages[pkg] = { version: meta.version, license: meta.license, integrity: locked.integrity };
    if (existsSync(join(root, "LICENSE"))) {
      const license = `${pkg.replace("/", "__")}.LICENSE`;
      copyFileSync(join(root, "LICENSE"), join(target, "licenses", license));
      packages[pkg].licenseFile = `licenses/${license}`;
    }
  }
  copyFileSync(join(root, source), join(target, name));
  files[name] = { package: pkg, source, sha256: sha256(join(target, name)) };
}
const manifest = { generatedBy: "make graphiql-assets", packages, files };
writeFileSync(join(target, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`copied ${Object.keys(files).length} files into ${target}`);
