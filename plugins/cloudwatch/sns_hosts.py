"""Which host may serve an SNS message's signing certificate: its topic region's SNS endpoint.

AWS documents one SNS endpoint per region ("Amazon Simple Notification Service
endpoints and quotas"): ``sns.<region>.amazonaws.com`` in the commercial
(``aws``) and GovCloud (``aws-us-gov``) partitions, and
``sns.<region>.amazonaws.com.cn`` in the China (``aws-cn``) partition. SNS signs
a topic's messages with a certificate served by that endpoint, so the
``TopicArn`` fixes the one host a ``SigningCertURL`` may name. Checking it
before any fetch means a forged message cannot send the gateway to another
region's host, nor to an invented one. The isolated partitions (``aws-iso*``)
and the European Sovereign Cloud publish their endpoints under other domains
and are refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from gateway.pluginkit import InvalidEvent

from .._sns import TopicArn
from .alarms import partition_for

# AWS's region names in the accepted partitions: area, optional "gov", direction, number
# (us-east-1, us-gov-west-1, cn-northwest-1, ap-southeast-5, il-central-1).
_REGION = re.compile(r"[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}", re.ASCII)

_DOMAINS = {"aws": "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}


def sns_host(topic: TopicArn) -> str | None:
    """The SNS endpoint host of the topic's region (``None``: not a region AWS documents)."""
    if _REGION.fullmatch(topic.region) is None:
        return None
    partition = partition_for(topic.region)
    if topic.partition != partition:  # arn:aws:sns:cn-north-1:… names no real topic
        return None
    return f"sns.{topic.region}.{_DOMAINS[partition]}"


def check_certificate_host(url: str, topic: TopicArn) -> None:
    """Refuse a ``SigningCertURL`` whose host is not the SNS endpoint of the topic's region.

    Expects ``url`` already checked by :func:`.._sns.check_certificate_url` (its
    shape, scheme and the absence of user-info and port).
    """
    expected = sns_host(topic)
    if expected is None:
        raise InvalidEvent(
            [
                "'TopicArn' is invalid (its region is not an AWS region of the aws, "
                "aws-us-gov or aws-cn partition)"
            ]
        )
    if urlsplit(url).hostname != expected:
        raise InvalidEvent(
            [
                f"'SigningCertURL' is invalid (must be on {expected}, the SNS host of the "
                "TopicArn's region)"
            ]
        )
