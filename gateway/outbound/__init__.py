"""Outbound delivery: the deliverers that empty the outbox, and what they may connect to.

- :mod:`~gateway.outbound.kinds`: the delivery-kind protocol (what a kind of message is,
  how it is sent and classified) and the environment a sender gets.
- :mod:`~gateway.outbound.engine`: the Trio tasks that claim due messages under a lease,
  send them over httpx and record each attempt (:func:`serve_outbox`).
- :mod:`~gateway.outbound.addresses`: the outbound address policy (deny list checked
  after DNS resolution, at connect time) and the httpx client that enforces it.

The queue's rules live in :mod:`gateway.core.outbox`; the SQL in :mod:`gateway.store.outbox`.
"""
