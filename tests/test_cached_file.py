"""The Content-Disposition a cached file is served with under a minted id."""

from __future__ import annotations

import pytest

from proxy.cached_file import served_disposition

MINTED = "video_" + "ab" * 16


@pytest.mark.parametrize(
    ("sent", "content_type", "want"),
    [
        # LiteLLM's shape: only the name changes.
        (
            'attachment; filename="dmlkZW9fMTIz.mp4"',
            "video/mp4",
            f'attachment; filename="{MINTED}.mp4"',
        ),
        # inline stays inline; an RFC 5987 name is read for its extension.
        (
            "inline; filename*=UTF-8''clip%20one.MOV",
            "video/mp4",
            f'inline; filename="{MINTED}.MOV"',
        ),
        # No name, an extension that is not one, a path: the content type's extension.
        ("attachment", "image/webp", f'attachment; filename="{MINTED}.webp"'),
        ('attachment; filename="x.mp4; rm"', "video/mp4", f'attachment; filename="{MINTED}.mp4"'),
        (
            'attachment; filename="../../etc/passwd"',
            "image/jpeg",
            f'attachment; filename="{MINTED}.jpg"',
        ),
        # A type this proxy cannot vouch for is an attachment; nothing unknown: no extension.
        ("garbage;;", "application/x-unknown", f'attachment; filename="{MINTED}"'),
    ],
)
def test_the_name_is_the_served_id(sent: str, content_type: str, want: str) -> None:
    assert served_disposition(sent, MINTED, content_type) == want


def test_no_header_when_the_upstream_sent_none() -> None:
    assert served_disposition(None, MINTED, "video/mp4") is None


def test_an_id_with_header_syntax_is_quoted() -> None:
    got = served_disposition("attachment", 'a"b;c/d', "video/mp4")
    assert got == 'attachment; filename="a%22b%3Bc%2Fd.mp4"'
