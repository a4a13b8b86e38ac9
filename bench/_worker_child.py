"""One gateway process serving an inherited listening socket (for bench/workers).

``python bench/_worker_child.py CONFIG FD``: runs the daemon exactly as ``serve`` does,
except that Hypercorn binds ``fd://FD`` (the socket bench/workers bound once and passed
to every worker) instead of the configured address.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway import daemon, logs
from gateway.config import Settings, load_settings


def main() -> None:
    """Serve until SIGTERM."""
    config_path, fd = Path(sys.argv[1]), int(sys.argv[2])
    configured = daemon.hypercorn_config

    def inherited(settings: Settings) -> HypercornConfig:
        config = configured(settings)
        config.bind = [f"fd://{fd}"]
        return config

    daemon.hypercorn_config = inherited
    settings = load_settings(config_path)
    logs.configure(level=settings.logging.level, fmt=settings.logging.format)

    async def serve() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run, settings)

    trio.run(serve)


if __name__ == "__main__":
    main()
