"""Every content encoding is decoded within the decompressed limit, bombs included."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from logsight.errors import ApiError
from logsight.ingest.body import decode_body

PAYLOAD = b'{"name": "x", "message": "' + b"hello " * 2000 + b'"}'


def encodings() -> dict[str, bytes]:
    return {
        "gzip": gzip.compress(PAYLOAD),
        "deflate": zlib.compress(PAYLOAD),
        "br": brotli.compress(PAYLOAD),
        "zstd": zstandard.ZstdCompressor().compress(PAYLOAD),
    }


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_each_encoding_round_trips(encoding: str) -> None:
    data = encodings()[encoding]
    assert decode_body(data, encoding, max_body=1 << 20, max_decompressed=1 << 20) == PAYLOAD
    assert (
        decode_body(data, encoding.upper(), max_body=1 << 20, max_decompressed=1 << 20) == PAYLOAD
    )


def test_raw_deflate_is_accepted() -> None:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(PAYLOAD) + compressor.flush()
    assert decode_body(raw, "deflate", max_body=1 << 20, max_decompressed=1 << 20) == PAYLOAD


@pytest.mark.parametrize("encoding", ["", "identity", "UTF-8", None])
def test_identity_spellings(encoding: str | None) -> None:
    assert decode_body(PAYLOAD, encoding, max_body=1 << 20, max_decompressed=1 << 20) == PAYLOAD


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_bombs_stop_at_the_limit(encoding: str) -> None:
    zeros = b"\0" * (64 * 1024 * 1024)
    bomb = {
        "gzip": lambda: gzip.compress(zeros, 9),
        "deflate": lambda: zlib.compress(zeros, 9),
        "br": lambda: brotli.compress(zeros, quality=5),
        "zstd": lambda: zstandard.ZstdCompressor(level=3).compress(zeros),
    }[encoding]()
    assert len(bomb) < 1024 * 1024
    with pytest.raises(ApiError) as info:
        decode_body(bomb, encoding, max_body=1 << 20, max_decompressed=1 << 20)
    assert info.value.status == 413


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_corrupt_bodies_are_400(encoding: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_body(
            b"definitely not compressed", encoding, max_body=1 << 20, max_decompressed=1 << 20
        )
    assert info.value.status == 400


@pytest.mark.parametrize(
    "data",
    [brotli.compress(PAYLOAD)[:-5], zstandard.ZstdCompressor().compress(PAYLOAD)[:-5]],
    ids=["br", "zstd"],
)
def test_truncated_bodies_are_400(data: bytes) -> None:
    encoding = "zstd" if data.startswith(b"\x28\xb5\x2f\xfd") else "br"
    with pytest.raises(ApiError) as info:
        decode_body(data, encoding, max_body=1 << 20, max_decompressed=1 << 20)
    assert info.value.status == 400


def test_unknown_encoding_is_415() -> None:
    with pytest.raises(ApiError) as info:
        decode_body(PAYLOAD, "compress", max_body=1 << 20, max_decompressed=1 << 20)
    assert (info.value.status, info.value.field) == (415, "content-encoding")


def test_concatenated_zstd_frames() -> None:
    compressor = zstandard.ZstdCompressor()
    data = compressor.compress(PAYLOAD[:100]) + compressor.compress(PAYLOAD[100:])
    assert decode_body(data, "zstd", max_body=1 << 20, max_decompressed=1 << 20) == PAYLOAD
