"""The body of `POST /api/uploads` (multipart/form-data: `kind` and `file`), built by hand so
the load, soak and several-hosts scripts need nothing beyond the standard library."""

import uuid


def multipart(kind, name, content):
    """(body bytes, headers) for uploading `content` as file `name` of `kind` (model | data)."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
