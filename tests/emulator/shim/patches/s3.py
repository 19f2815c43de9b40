"""S3 patches (B1, B2, B3). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

import json

from ..registry import patch


def policy_is_public(policy: dict) -> bool:
    """An Allow statement for every principal ("*" or {"AWS": "*"}) without a Condition: what
    S3 Block Public Access counts as public (AWS also accepts some conditions as non-public)."""
    statements = policy.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        principal = st.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in (
            principal.get("AWS") if isinstance(principal.get("AWS"), list) else [principal.get("AWS")]))
        if st.get("Effect") == "Allow" and everyone and not st.get("Condition"):
            return True
    return False


@patch(
    "B1", "s3",
    moto=(
        "S3 PutBucketPolicy stores a public policy even when the bucket's public access block has "
        "`BlockPublicPolicy`."
    ),
    emulator=(
        "`AccessDenied` (403) \"... because public policies are blocked by the BlockPublicPolicy "
        "block public access setting.\" A policy is public when a statement allows `Principal: "
        "\"*\"` (or `{\"AWS\": \"*\"}`) without a `Condition` (AWS accepts some conditions as "
        "non-public; the account-level block (s3control) is not emulated)."
    ),
)
def public_policy_blocked() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend as Backend

    class PublicPolicyBlocked(S3ClientError):
        code = "AccessDenied"

    orig_put_policy = Backend.put_bucket_policy

    def put_bucket_policy(self, bucket_name, policy):
        """B1: a public policy on a bucket whose public access block has BlockPublicPolicy is
        refused with AccessDenied, as on AWS (moto stores it)."""
        block = self.get_bucket(bucket_name).public_access_block
        try:
            doc = json.loads(policy)
        except ValueError:
            doc = {}
        if block is not None and block.block_public_policy and policy_is_public(doc):
            raise PublicPolicyBlocked(
                "AccessDenied", "User is not authorized to perform: s3:PutBucketPolicy on resource: "
                f"\"arn:aws:s3:::{bucket_name}\" because public policies are blocked by the "
                "BlockPublicPolicy block public access setting.")
        return orig_put_policy(self, bucket_name, policy)

    Backend.put_bucket_policy = put_bucket_policy


@patch(
    "B2", "s3",
    moto=(
        "S3 CreateBucket makes a bucket without a public access block (GetPublicAccessBlock → "
        "`NoSuchPublicAccessBlockConfiguration`)."
    ),
    emulator=(
        "A new bucket has all four settings `true`, as on AWS since April 2023, so a public "
        "website bucket must first relax the block (PutPublicAccessBlock with `BlockPublicPolicy: "
        "false`, `RestrictPublicBuckets: false`), then put its policy. DeletePublicAccessBlock "
        "still removes it."
    ),
)
def new_buckets_block_public_access() -> None:
    from moto.s3.models import PublicAccessBlock, S3Backend as Backend

    orig_create_bucket = Backend.create_bucket

    def create_bucket(self, bucket_name, *args, **kwargs):
        """B2: a new bucket has all four Block Public Access settings on, as on AWS since April
        2023 (moto: none, GetPublicAccessBlock -> NoSuchPublicAccessBlockConfiguration)."""
        existed = bucket_name in self.buckets
        bucket = orig_create_bucket(self, bucket_name, *args, **kwargs)
        if not existed and bucket.public_access_block is None:
            bucket.public_access_block = PublicAccessBlock(True, True, True, True)
        return bucket

    Backend.create_bucket = create_bucket


@patch(
    "B3", "s3",
    moto=(
        "S3 CreateBucket ignores `CreateBucketConfiguration/Tags`: the new bucket has no tags."
    ),
    emulator=(
        "The bucket is made with those tags, as on AWS since 2025 (`TagResource` on create), so "
        "a bucket is never seen without its owner's tags."
    ),
)
def create_bucket_with_tags() -> None:
    import xmltodict
    from moto.s3.responses import S3Response

    orig_put = S3Response._bucket_response_put

    def _bucket_response_put(self, request, bucket_name, querystring):
        """B3: CreateBucket with CreateBucketConfiguration/Tags tags the new bucket (moto drops
        the tags)."""
        result = orig_put(self, request, bucket_name, querystring)
        if querystring or not self.body:
            return result
        try:
            config = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
        except Exception:  # not XML: moto answered it already
            return result
        tags = (config.get("Tags") or {}).get("Tag") or []
        if isinstance(tags, dict):
            tags = [tags]
        if tags and bucket_name in self.backend.buckets:
            self.backend.put_bucket_tagging(
                bucket_name, {t["Key"]: t.get("Value") or "" for t in tags})
        return result

    S3Response._bucket_response_put = _bucket_response_put
