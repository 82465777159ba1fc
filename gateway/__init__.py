"""Studio Gateway: a GraphQL gateway in front of Twilio Studio's v2 REST API."""

__version__ = "0.1.0"
