"""Room avatars without an image library (D29): PNG/JPEG header checks and generated SVGs."""

from __future__ import annotations

import hashlib
import struct
from xml.sax.saxutils import escape

from conversations.constants import AVATAR_CUSTOM, AVATAR_EMOJI, RoomType
from conversations.models import RoomAvatar

SVG = "image/svg+xml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 4096


class AvatarError(Exception):
    """An uploaded image that cannot be a room avatar; the message is upstream's."""


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise AvatarError("Invalid image")
    return struct.unpack(">II", data[16:24])


def _jpeg_size(data: bytes) -> tuple[int, int]:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            raise AvatarError("Invalid image")
        marker = data[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        if 0xC0 <= marker <= 0xC3:
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + length
    raise AvatarError("Invalid image")


def validate_image(data: bytes) -> str:
    """The content type of an acceptable avatar image, or :class:`AvatarError`."""
    if data.startswith(PNG_MAGIC):
        content_type, (width, height) = "image/png", _png_size(data)
    elif data.startswith(b"\xff\xd8"):
        content_type, (width, height) = "image/jpeg", _jpeg_size(data)
    else:
        raise AvatarError("Unknown filetype")
    if width != height:
        raise AvatarError("The avatar must be a square")
    if width == 0 or width > MAX_SIDE:
        raise AvatarError("Invalid image")
    return content_type


def colour_for(token: str) -> str:
    """A stable background colour derived from the token."""
    digest = hashlib.sha1(token.encode("utf-8")).hexdigest()  # noqa: S324 - a colour, not security
    return digest[:6]


def _darken(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
    return "".join(f"{int(c * 0.6):02x}" for c in (r, g, b))


def _svg(text: str, colour: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">'
        f'<circle cx="256" cy="256" r="256" fill="#{colour}"/>'
        '<text x="50%" y="50%" dominant-baseline="central" text-anchor="middle" '
        f'font-family="sans-serif" font-size="240" fill="#ffffff">{escape(text)}</text></svg>'
    ).encode()


def render(room, view, dark: bool) -> tuple[str, bytes]:
    """``(content type, bytes)`` of the room's avatar."""
    if room.avatar_kind == AVATAR_CUSTOM:
        stored = RoomAvatar.get_or_none(RoomAvatar.room == room.id)
        if stored is not None:
            return stored.content_type, bytes(stored.data)
    if room.avatar_kind == AVATAR_EMOJI:
        colour = room.avatar_color or colour_for(room.token)
        text = room.avatar_emoji
    else:
        colour = colour_for(room.token)
        if room.type == RoomType.NOTE_TO_SELF:
            text = "📝"
        else:
            name = view.partner_name if room.type == RoomType.ONE_TO_ONE else room.name
            text = name[:1].upper() if name else "#"
    return SVG, _svg(text, _darken(colour) if dark else colour)
