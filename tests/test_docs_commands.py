"""Commands the docs hand to operators: each must reach the gateway, not PagerDuty."""

from __future__ import annotations

import re

from tests.scaffold import REPO


def test_every_pagerduty_nagios_command_in_the_docs_names_the_gateway() -> None:
    # The script's default API base is PagerDuty's own; `enqueue` sends at once too, so a
    # command without --api-base pages through PagerDuty instead of the gateway.
    commands = [
        line
        for doc in (REPO / "docs").glob("*.md")
        for line in doc.read_text().splitlines()
        if re.search(r"pagerduty_nagios\.pl (enqueue|flush)", line)
    ]
    assert commands, "docs/vendors.md shows the pagerduty_nagios.pl set-up"
    for line in commands:
        assert "--api-base https://gw.example.com/nagios/2010-04-15" in line, line
