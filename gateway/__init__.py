"""alert-gateway: a self-hosted, plugin-based alert gateway that speaks PagerDuty's APIs."""

__version__ = "0.1.0"
