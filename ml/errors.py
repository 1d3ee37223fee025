"""The one error the web layer maps to a 4xx for images it cannot use."""


class UnreadableImage(ValueError):
    """Bytes that are not a decodable raster image, or one too large to decode safely."""
