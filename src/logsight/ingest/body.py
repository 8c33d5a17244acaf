"""Request bodies: size limits, bounded decompression, strict UTF-8.

Every decoder produces its output in bounded steps and stops as soon as the output would pass
the decompressed limit, so a compression bomb costs at most that many bytes of memory and the
time to produce them, never the size it claims.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli
import zstandard

from logsight.errors import ApiError

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_CHUNK = 64 * 1024

# Some SDKs send these for "no encoding" (Relay accepts them too).
IDENTITY_ENCODINGS = frozenset({"", "identity", "utf-8", "utf8"})


def too_large(message: str, field: str = "body") -> ApiError:
    return ApiError(413, "payload_too_large", message, field)


def _invalid(name: str, detail: object) -> ApiError:
    return ApiError(400, "invalid_encoding", f"body is not valid {name}: {detail}", "body")


class _Output:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer = bytearray()

    def add(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) > self.limit:
            raise too_large(f"decompressed body exceeds {self.limit} bytes")


def _inflate(data: bytes, limit: int, wbits: int, name: str) -> bytes:
    out = _Output(limit)
    inflater = zlib.decompressobj(wbits)
    pending = data
    try:
        while True:
            out.add(inflater.decompress(pending, _CHUNK))
            pending = inflater.unconsumed_tail
            if inflater.eof:
                # Concatenated gzip members are legal; keep inflating what follows.
                rest = inflater.unused_data
                if not rest or wbits != _GZIP_WBITS:
                    break
                inflater = zlib.decompressobj(wbits)
                pending = rest
            elif not pending:
                out.add(inflater.flush())
                if not inflater.eof:
                    raise ApiError(400, "invalid_encoding", f"{name} body is truncated", "body")
                break
    except zlib.error as exc:
        raise _invalid(name, exc) from exc
    return bytes(out.buffer)


def inflate_gzip(data: bytes, limit: int) -> bytes:
    return _inflate(data, limit, _GZIP_WBITS, "gzip")


def inflate_deflate(data: bytes, limit: int) -> bytes:
    # HTTP "deflate" means zlib-wrapped, but raw deflate is common in the wild: accept both.
    wbits = zlib.MAX_WBITS if data[:1] and (data[0] & 0x0F) == 8 else -zlib.MAX_WBITS
    try:
        return _inflate(data, limit, wbits, "deflate")
    except ApiError as error:
        if error.status == 413 or wbits < 0:
            raise
        return _inflate(data, limit, -zlib.MAX_WBITS, "deflate")


def decompress_brotli(data: bytes, limit: int) -> bytes:
    out = _Output(limit)
    decompressor = brotli.Decompressor()
    try:
        out.add(decompressor.process(data, output_buffer_limit=_CHUNK))
        while not decompressor.can_accept_more_data() and not decompressor.is_finished():
            out.add(decompressor.process(b"", output_buffer_limit=_CHUNK))
    except brotli.error as exc:
        raise _invalid("brotli", exc) from exc
    if not decompressor.is_finished():
        raise ApiError(400, "invalid_encoding", "brotli body is truncated", "body")
    return bytes(out.buffer)


def decompress_zstd(data: bytes, limit: int) -> bytes:
    out = _Output(limit)
    # zstd has no output bound per call, so feed the input in small slices: one slice can
    # describe at most a few MiB of output (RLE blocks), checked against the limit each time.
    step = 512
    try:
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        position = 0
        while position < len(data):
            out.add(decompressor.decompress(data[position : position + step]))
            position += step
            if decompressor.eof:
                rest = decompressor.unused_data + data[position:]
                if not rest:
                    break
                # Concatenated frames, like concatenated gzip members.
                decompressor = zstandard.ZstdDecompressor().decompressobj()
                data, position = rest, 0
    except zstandard.ZstdError as exc:
        raise _invalid("zstd", exc) from exc
    if not decompressor.eof:
        raise ApiError(400, "invalid_encoding", "zstd body is truncated", "body")
    return bytes(out.buffer)


DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": inflate_gzip,
    "x-gzip": inflate_gzip,
    "deflate": inflate_deflate,
    "br": decompress_brotli,
    "zstd": decompress_zstd,
}


def decode_body(
    raw: bytes, content_encoding: str | None, *, max_body: int, max_decompressed: int
) -> bytes:
    if len(raw) > max_body:
        raise too_large(f"body exceeds {max_body} bytes")
    encoding = (content_encoding or "").strip().lower()
    if encoding in IDENTITY_ENCODINGS:
        if len(raw) > max_decompressed:
            raise too_large(f"body exceeds {max_decompressed} bytes")
        return raw
    decoder = DECODERS.get(encoding)
    if decoder is None:
        raise ApiError(
            415,
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported (gzip, deflate, br, zstd or none)",
            "content-encoding",
        )
    return decoder(raw, max_decompressed)


def check_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "invalid_utf8", f"body is not valid UTF-8 at byte {exc.start}", "body"
        ) from exc
