"""The one error the web layer maps to a 4xx for images it cannot use."""


class UnreadableImage(ValueError):
    """Bytes that are not a decodable raster image, or one too large to decode safely.

    reason: "unidentified" (not an image format we read), "broken" (truncated or corrupt),
    "too_large" (more pixels than the cap, found from the header before decoding), "empty".
    """

    def __init__(self, message: str, reason: str = "broken") -> None:
        super().__init__(message)
        self.reason = reason
