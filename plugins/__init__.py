"""Built-in vendor plugins, registered through the ``alert_gateway.plugins`` entry points.

Each module here is a plugin exactly as a third-party package would write it:
it imports only the public plugin API (``gateway.hookspecs``, ``gateway.model``,
``gateway.cef``, ``gateway.errors``) and knows one payload format.
"""
