"""Who did it, in words: the name a person reads for a log entry's agent.

Log entries record an agent as a ``(type, id)`` pair because names change and objects
are deleted; a reader (the web UI, a REST ``summary``) wants a name. This is the one
place that turns the pair into one, for every page that shows a timeline.
"""

from __future__ import annotations

from gateway.store import Reader

__all__ = ["agent_name"]

_FIXED = {"config": "the configuration file", "system": "alert-gateway"}


def agent_name(reader: Reader, agent_type: str | None, agent_id: str | None) -> str | None:
    """A readable name for the agent ``(agent_type, agent_id)``; ``None`` when there is none.

    An integration is named by its name (a deleted one too, marked so), an API token by
    the name it was created with, the CLI by its operator; ``user`` agents already carry a
    name (the ``From`` address or the signed-in token's name).
    """
    if agent_type is None:
        return None
    if agent_type in _FIXED:
        return _FIXED[agent_type]
    if agent_id is None:
        return None
    if agent_type == "integration":
        live = reader.integration(agent_id)
        if live is not None:
            return f"integration {live.name}"
        gone = reader.deleted_integration(agent_id)
        return f"integration {gone.name} (deleted)" if gone else f"integration {agent_id}"
    if agent_type == "service":
        service = reader.service(agent_id) or reader.deleted_service(agent_id)
        return f"service {service.name if service else agent_id} (timeout)"
    if agent_type == "api_token":
        token = reader.token(agent_id)
        return f"API token {token.name if token else agent_id}"
    if agent_type == "cli":
        return f"{agent_id} (command line)"
    return agent_id
