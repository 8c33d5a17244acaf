"""Request bodies: size limits, bounded decompression, strict UTF-8."""

from __future__ import annotations

import zlib

from logsight.errors import ApiError

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_CHUNK = 64 * 1024


def too_large(message: str, field: str = "body") -> ApiError:
    return ApiError(413, "payload_too_large", message, field)


def inflate_gzip(data: bytes, limit: int) -> bytes:
    """Gunzip ``data``, giving up as soon as the output would pass ``limit`` bytes.

    The output is produced in bounded steps, so a gzip bomb costs at most ``limit`` bytes
    of memory and the time to produce them, never the size it claims.
    """
    inflater = zlib.decompressobj(_GZIP_WBITS)
    out = bytearray()
    pending = data
    try:
        while True:
            out += inflater.decompress(pending, _CHUNK)
            if len(out) > limit:
                raise too_large(f"decompressed body exceeds {limit} bytes")
            pending = inflater.unconsumed_tail
            if inflater.eof:
                # Concatenated gzip members are legal; keep inflating what follows.
                rest = inflater.unused_data
                if not rest:
                    break
                inflater = zlib.decompressobj(_GZIP_WBITS)
                pending = rest
            elif not pending:
                out += inflater.flush()
                if len(out) > limit:
                    raise too_large(f"decompressed body exceeds {limit} bytes")
                if not inflater.eof:
                    raise ApiError(400, "invalid_encoding", "gzip body is truncated", "body")
                break
    except zlib.error as exc:
        raise ApiError(400, "invalid_encoding", f"body is not valid gzip: {exc}", "body") from exc
    return bytes(out)


def decode_body(
    raw: bytes, content_encoding: str | None, *, max_body: int, max_decompressed: int
) -> bytes:
    if len(raw) > max_body:
        raise too_large(f"body exceeds {max_body} bytes")
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > max_decompressed:
            raise too_large(f"body exceeds {max_decompressed} bytes")
        return raw
    if encoding in ("gzip", "x-gzip"):
        return inflate_gzip(raw, max_decompressed)
    raise ApiError(
        415,
        "unsupported_encoding",
        f"Content-Encoding {encoding!r} is not supported (use gzip or none)",
        "content-encoding",
    )


def check_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "invalid_utf8", f"body is not valid UTF-8 at byte {exc.start}", "body"
        ) from exc
