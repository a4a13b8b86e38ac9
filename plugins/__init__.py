"""Built-in vendor plugins, registered through the ``alert_gateway.plugins`` entry points.

The folder is ``plugins/``; it is installed as the package ``alert_gateway_plugins``
(a top-level ``plugins`` in site-packages would collide with other projects').
Each module here is a plugin exactly as a third-party package would write it:
it imports only :mod:`gateway.pluginkit` (the public plugin face) and its own
private helpers (``_vendor``, ``_sns``), and knows one payload format.
"""
