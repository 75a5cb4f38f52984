"""The server's error envelope ``{code, message, retryable, request_id}`` as an exception."""

from typing import Optional


class ShaplabError(Exception):
    """A request the server refused or could not serve.

    ``code`` is the server's stable error code (``upload_not_found``, ``invalid_api_key``,
    ``queue_unavailable``, ...), ``message`` its sentence for people, ``status`` the HTTP
    status (``None`` when no answer came at all).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: Optional[int] = None,
        retryable: bool = False,
        request_id: Optional[str] = None,
    ):
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable
        self.request_id = request_id

    @classmethod
    def from_response(cls, response) -> "ShaplabError":
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "code" not in body:
            # A proxy's HTML error page, or a server restarting: say so rather than guess.
            return cls(
                "server_unreachable",
                f"the server answered {response.status_code} without an explanation; "
                "it may be restarting, try again in a moment",
                status=response.status_code,
                retryable=True,
            )
        return cls(
            str(body.get("code")),
            str(body.get("message", "")),
            status=response.status_code,
            retryable=bool(body.get("retryable", False)),
            request_id=body.get("request_id"),
        )
