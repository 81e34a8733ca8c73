"""Finished recordings in an S3-compatible object store (``recordings_s3_bucket``).

One of the few modules that touch the network.  FreeSWITCH still writes
each recording into the local store folder (it can only write files); when
the recording is complete, the process that completes it uploads the file
under the same key (``ACCOUNT/ID.wav``, behind ``recordings_s3_prefix``)
and removes the local copy.  The REST workers then serve the audio from
the bucket, ranges included, so they need not share the switch's folder.

boto3 (the ``s3`` extra) signs the requests: AWS Signature V4, retries and
the standard credential chain are better taken from it than written again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)


class ArchiveError(Exception):
    """The object store refused or could not be reached; the message says which."""


@dataclass(frozen=True)
class ArchivedAudio:
    status: int  # 200, or 206 for a range
    length: int
    body: Iterator[bytes]
    content_range: str | None = None


class RangeNotSatisfiable(ArchiveError):
    pass


class MissingObject(ArchiveError):
    pass


class S3Archive:
    """One bucket of an S3-compatible store."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key: str = "",
        secret_key: str = "",
        prefix: str = "",
        timeout: float = 30.0,
    ):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - depends on the install
            raise ArchiveError("recordings_s3_bucket needs boto3: pip install 'voxology-fs[s3]'") from None
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key} if access_key else {}
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}),
            **credentials,
        )

    @classmethod
    def from_settings(cls, settings) -> S3Archive | None:
        if not settings.recordings_s3_bucket:
            return None
        return cls(
            settings.recordings_s3_bucket,
            endpoint_url=settings.recordings_s3_endpoint_url,
            region=settings.recordings_s3_region,
            access_key=settings.recordings_s3_access_key,
            secret_key=settings.recordings_s3_secret_key,
            prefix=settings.recordings_s3_prefix,
        )

    def _call(self, what: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("InvalidRange", "416"):
                raise RangeNotSatisfiable(f"{what}: the range is outside the object") from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise MissingObject(f"{what}: no such object") from None
            raise ArchiveError(f"{what}: the object store answered {code or 'an error'}") from None
        except BotoCoreError as exc:
            raise ArchiveError(f"{what}: the object store could not be reached ({type(exc).__name__})") from None

    def put(self, key: str, path: str, content_type: str) -> None:
        with open(path, "rb") as fh:
            self._call("upload", self._client.put_object, Key=self.prefix + key, Body=fh, ContentType=content_type)

    def get(self, key: str, byte_range: str | None = None) -> ArchivedAudio:
        """The object, or the part ``byte_range`` (an HTTP Range header) names."""
        extra = {"Range": byte_range} if byte_range else {}
        answer = self._call("download", self._client.get_object, Key=self.prefix + key, **extra)
        content_range = answer.get("ContentRange")
        status = 206 if content_range else 200
        return ArchivedAudio(status, int(answer["ContentLength"]), answer["Body"].iter_chunks(64 * 1024), content_range)

    def delete(self, key: str) -> None:
        self._call("delete", self._client.delete_object, Key=self.prefix + key)
