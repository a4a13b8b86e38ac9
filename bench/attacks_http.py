"""The campaign's attacks that are whole HTTP requests (issue 14 items 5, 8, 10, 11, 13).

Each takes the :class:`~bench.campaign_kit.Target` and fills its
:class:`~bench.campaign_kit.Tally`; an answer the attack did not expect is a problem.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from typing import Any

import httpx
import trio

from bench.campaign_kit import Tally, Target, v2_bytes

# -- bad bodies and malformed input (item 5 and the burst) ---------------------------------

#: Bodies no vendor can read: each must be a 4xx wherever it is posted.
BAD_BODIES: list[tuple[bytes, str]] = [
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b'"just a string"', "application/json"),
    (b"\xff\xfe\x00\x00garbage", "application/json"),
    (b'{"routing_key": 5, "event_action": ["x"]}', "application/json"),
    (b'{"a": ' * 2000 + b"1" + b"}" * 2000, "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    (b"\x00" * 4096, "application/octet-stream"),
]

#: Where the burst posts: the Events API paths that take a key in the body.
BURST_PATHS = ("/v2/enqueue", "/v2/change/enqueue", "/generic/2010-04-15/create_event.json")


async def bad_bodies(t: Target, tally: Tally) -> None:
    """Item 5: unreadable bodies to ``/integration/<KEY>/enqueue`` of every vendor: 4xx.

    Whether a whole key reached the log is checked once the daemon has stopped.
    """
    async with t.client() as http:
        for key in t.keys.vendors.values():
            for body, content_type in BAD_BODIES:
                tally.sent += 1
                answer = await http.post(
                    f"/integration/{key}/enqueue",
                    content=body,
                    headers={"content-type": content_type},
                )
                tally.answer(answer.status_code)
                if not 400 <= answer.status_code < 500:
                    tally.fail(f"{answer.status_code} for {body[:20]!r}")


async def malformed_burst(t: Target, tally: Tally) -> None:
    """Malformed JSON and oversized bodies from 4 connections at once: every answer 4xx."""
    oversized = b'{"x": "' + b"a" * t.max_body_size + b'"}'
    bodies = [*BAD_BODIES, (oversized, "application/json")]
    rounds = 2 if t.quick else 6
    work = [(path, body) for _ in range(rounds) for path in BURST_PATHS for body in bodies]
    send, receive = trio.open_memory_channel[tuple[str, tuple[bytes, str]]](len(work))
    for item in work:
        send.send_nowait(item)
    send.close()

    async def worker() -> None:
        async with t.client() as http:
            async for path, (body, content_type) in receive:
                tally.sent += 1
                try:
                    answer = await http.post(
                        path, content=body, headers={"content-type": content_type}
                    )
                except httpx.HTTPError as exc:  # an oversized body may be cut mid-send
                    tally.answer(None)
                    if len(body) <= t.max_body_size:
                        tally.fail(f"{type(exc).__name__} on {path}")
                    continue
                tally.answer(answer.status_code)
                if not 400 <= answer.status_code < 500:
                    tally.fail(f"{answer.status_code} on {path} for {body[:20]!r}")

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(worker)


# -- forged SNS (item 8) ------------------------------------------------------------------

TOPIC = "arn:aws:sns:us-east-1:482917365014:hostile-campaign"
INVENTED_URL = "https://sns.us-east-4x.amazonaws.com/x.pem"
#: A certificate URL of the right shape and region: the daemon must try to fetch it.
CONTROL_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-campaign.pem"


def forged_sns(topic: str, cert_url: str, message_id: str) -> bytes:
    """An SNS Notification with a signature of random bytes."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    alarm = {"AlarmName": "forged", "NewStateValue": "ALARM", "NewStateReason": "forged"}
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic,
            "Subject": "ALARM: forged",
            "Message": json.dumps(alarm),
            "Timestamp": stamp,
            "SignatureVersion": "2",
            "Signature": base64.b64encode(os.urandom(256)).decode(),
            "SigningCertURL": cert_url,
        }
    ).encode()


async def sns_forged(t: Target, tally: Tally) -> None:
    """Item 8: a forged notification naming an invented region is refused, nothing fetched.

    Two kinds, each a flood: the allow-listed topic with a certificate on the invented
    region's host, and a topic in the invented region itself.
    """
    count = 5 if t.quick else 20
    kinds = [
        (TOPIC, INVENTED_URL, "must be on sns.us-east-1.amazonaws.com"),
        ("arn:aws:sns:us-east-4x:482917365014:alarms", INVENTED_URL, "allow-list"),
    ]
    async with t.client() as http:
        for topic, url, error in kinds:
            for n in range(count):
                tally.sent += 1
                answer = await http.post(
                    f"/integration/{t.keys.sns}/enqueue",
                    content=forged_sns(topic, url, f"forged-{topic[-6:]}-{n}"),
                    headers={"content-type": "text/plain; charset=UTF-8"},
                )
                tally.answer(answer.status_code)
                if answer.status_code != 400 or error not in answer.text:
                    tally.fail(f"{answer.status_code} {answer.text[:80]}")
    if t.fetches.requests:
        tally.fail(f"fetches attempted: {t.fetches.requests}")
    t.sns_forged_done.set()


async def sns_control(t: Target, tally: Tally) -> None:
    """The fetch detector's control: a flood naming a real-shaped, unreachable certificate
    makes exactly one fetch, and each answer is 503 saying the certificate could not be
    fetched (SNS redelivers on a 5xx)."""
    await t.sns_forged_done.wait()  # so that the forged flood's fetch count is its own
    before = len(t.fetches.requests)
    count = 5 if t.quick else 20

    async def one(n: int) -> None:
        async with t.client() as http:
            tally.sent += 1
            answer = await http.post(
                f"/integration/{t.keys.sns}/enqueue",
                content=forged_sns(TOPIC, CONTROL_URL, f"control-{n}"),
                headers={"content-type": "text/plain; charset=UTF-8"},
            )
            tally.answer(answer.status_code)
            if answer.status_code != 503 or "could not be fetched" not in answer.text:
                tally.fail(f"{answer.status_code} {answer.text[:80]}")

    async with trio.open_nursery() as nursery:
        for n in range(count):
            nursery.start_soon(one, n)
    made = t.fetches.requests[before:]
    if len(made) != 1 or "sns.us-east-1.amazonaws.com:443" not in made[0]:
        tally.fail(f"{len(made)} fetches for {count} messages (expected 1): {made[:3]}")


async def sns_paths(t: Target, tally: Tally) -> None:
    """Opt-in (``--attacks sns-paths``), an open finding: forged messages on the allow-listed
    topic, each naming its own certificate path on the right region's host.

    The failed-fetch memory is per URL, so each makes a fetch; a flood should make no
    flood of fetches (issue 14 item 8). Expected: at most 2 fetches for 20 messages.
    """
    before = len(t.fetches.requests)

    async def one(n: int) -> None:
        async with t.client() as http:
            tally.sent += 1
            url = CONTROL_URL.replace("campaign", f"campaign-{n}")
            answer = await http.post(
                f"/integration/{t.keys.sns}/enqueue",
                content=forged_sns(TOPIC, url, f"paths-{n}"),
                headers={"content-type": "text/plain; charset=UTF-8"},
            )
            tally.answer(answer.status_code)
            if answer.status_code not in (400, 503):
                tally.fail(f"{answer.status_code} {answer.text[:80]}")

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(one, n)
    made = len(t.fetches.requests) - before
    if made > 2:
        tally.fail(f"{made} certificate fetches for 20 forged messages")


# -- Host header (item 10) ---------------------------------------------------------------

_URL = re.compile(r"https?://[^\s\"'<>]+")


def _urls(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return _URL.findall(value) if isinstance(value, str) else []


async def host_header(t: Target, tally: Tally) -> None:
    """Item 10: ``Host: evil.example`` on REST reads; every link starts with public_url."""
    rounds = 3 if t.quick else 10
    headers = {
        "Accept": "application/vnd.pagerduty+json;version=2",
        "Authorization": f"Token token={t.rest_token}",
        "Host": "evil.example",
    }
    paths = ["/incidents?limit=25", "/services?include[]=integrations"]
    links = 0
    async with t.client() as http:
        listed = await http.get("/incidents?limit=1", headers=headers)
        incident = listed.json()["incidents"][0]["id"]  # the probe's: there is one
        paths += [f"/incidents/{incident}", f"/incidents/{incident}/log_entries"]
        for _ in range(rounds):
            for path in paths:
                tally.sent += 1
                answer = await http.get(path, headers=headers)
                tally.answer(answer.status_code)
                if answer.status_code != 200:
                    tally.fail(f"{answer.status_code} on {path}")
                    continue
                urls = _urls(answer.json())
                links += len(urls)
                if "evil.example" in answer.text or "evil.example" in str(answer.headers):
                    tally.fail(f"evil.example in the answer to {path}")
                if any(not u.startswith(t.public_url) for u in urls):
                    tally.fail(f"a link not under public_url on {path}")
    if not links:
        tally.fail("no links in the answers: nothing was checked")


# -- UI sign-out (item 11) ---------------------------------------------------------------

COOKIE = "alert_gateway_ui"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SET = re.compile(COOKIE + r"=([^;]+)")


class _Browser:
    """A browser's cookie, carried by hand: with an https public_url it is ``Secure``, and
    a cookie jar would not send it to http://127.0.0.1. Every ``Set-Cookie`` replaces it."""

    def __init__(self, http: httpx.AsyncClient, tally: Tally, cookie: str = "") -> None:
        self.http, self.tally, self.cookie = http, tally, cookie

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        self.tally.sent += 1
        answer = await self.http.request(
            method, path, headers={"Cookie": f"{COOKIE}={self.cookie}"}, **kw
        )
        self.tally.answer(answer.status_code)
        found = _SET.search(answer.headers.get("set-cookie", ""))
        if found:
            self.cookie = found.group(1)
        return answer


async def ui_cookie(t: Target, tally: Tally) -> None:
    """Item 11: a session cookie copied before ``/ui/logout`` signs nobody in after it."""
    async with t.client() as http:
        for n in range(2 if t.quick else 5):
            browser = _Browser(http, tally)
            page = await browser.call("GET", "/ui/login")
            csrf = _CSRF.search(page.text)
            if page.status_code != 200 or not csrf:
                tally.fail(f"login page: {page.status_code}")
                return
            data = {"token": t.ui_token, "csrf_token": csrf[1]}
            signed = await browser.call("POST", "/ui/login", data=data)
            services = await browser.call("GET", "/ui/services")
            form = _CSRF.search(services.text)
            if signed.status_code != 303 or services.status_code != 200 or not form:
                tally.fail(f"sign-in: {signed.status_code}, then {services.status_code}")
                return
            thief = _Browser(http, tally, browser.cookie)  # the cookie, copied
            if (await thief.call("GET", "/ui/services")).status_code != 200:
                tally.fail("the copy did not work while the session lived")
            out = await browser.call("POST", "/ui/logout", data={"csrf_token": form[1]})
            if out.status_code != 303:
                tally.fail(f"sign-out: {out.status_code}")
            if (await thief.call("GET", "/ui/services")).status_code == 200:
                tally.fail("the copied cookie still reads pages after sign-out")
            data = {"csrf_token": form[1], "name": f"After sign-out {n}", "urgency": "high"}
            write = await thief.call("POST", "/ui/services/new", data=data)
            if write.status_code != 401:
                tally.fail(f"a form posted with the copy after sign-out: {write.status_code}")


# -- the rate limit follows the URL's key (item 13) --------------------------------------------


async def rate_limit(t: Target, tally: Tally) -> None:
    """Item 13: posts to A's URL naming B in the body count against A; B keeps its allowance.

    ``rate_limit`` + 20 triggers to A's URL: exactly ``rate_limit`` are 202 and the rest
    429; then five to /v2/enqueue with B's key are all 202.
    """
    limit = t.rate_limit
    statuses: list[int] = []
    async with t.client() as http:
        for _n in range(limit + 20):
            tally.sent += 1
            answer = await http.post(
                f"/integration/{t.keys.rate_url}/enqueue",
                content=v2_bytes(t.keys.rate_body, "rate"),
                headers={"content-type": "application/json"},
            )
            tally.answer(answer.status_code)
            statuses.append(answer.status_code)
        direct = []
        for _n in range(5):
            tally.sent += 1
            answer = await http.post("/v2/enqueue", content=v2_bytes(t.keys.rate_body, "direct"))
            tally.answer(answer.status_code)
            direct.append(answer.status_code)
    if statuses != [202] * limit + [429] * 20:
        tally.fail(f"A's URL: {statuses.count(202)} x 202, {statuses.count(429)} x 429")
    if direct != [202] * 5:
        tally.fail(f"B direct after the flood: {direct}")
