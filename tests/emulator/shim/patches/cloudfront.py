"""CloudFront patches (F1-F4). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

from ..registry import patch
from .route53 import dns_key, is_true


def cf_aliases(config: dict) -> list[str]:
    items = (config.get("Aliases") or {}).get("Items") or []
    if isinstance(items, dict):  # one <CNAME> element parses as a dict
        items = items.get("CNAME") or []
    return [dns_key(a) for a in ([items] if isinstance(items, str) else items)]


@patch(
    "F1", "cloudfront",
    moto=(
        "CloudFront keeps one `ETag` per distribution for life and accepts any `IfMatch` on "
        "UpdateDistribution/DeleteDistribution."
    ),
    emulator=(
        "Every UpdateDistribution makes a new `ETag`; an `IfMatch` other than the current one → "
        "`PreconditionFailed` (412). (A missing `IfMatch` was already `InvalidIfMatchVersion`.)"
    ),
)
@patch(
    "F2", "cloudfront",
    moto="CloudFront DeleteDistribution deletes an enabled distribution.",
    emulator=(
        "`DistributionNotDisabled` (409) unless it is disabled and `Deployed`, as on AWS (disable "
        "with UpdateDistribution `Enabled=false`, wait for `Deployed`, delete with the new "
        "`ETag`). moto's status goes `InProgress` → `Deployed` at the next read, so waits end at "
        "once."
    ),
)
@patch(
    "F3", "cloudfront",
    moto="CloudFront takes any string as `ViewerCertificate.ACMCertificateArn`.",
    emulator=(
        "Create/UpdateDistribution with an ARN that is not an ACM certificate of the account **in "
        "us-east-1** → `InvalidViewerCertificate` (400). (Whether the certificate covers the "
        "aliases is not checked; AWS does.)"
    ),
)
@patch(
    "F4", "cloudfront",
    moto="CloudFront lets two distributions have the same alias.",
    emulator="An alias another distribution has → `CNAMEAlreadyExists` (409).",
)
def distributions() -> None:
    """F1-F4: Create/Update/DeleteDistribution check ETags, state, certificate and aliases."""
    from moto.acm.models import acm_backends
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import CloudFrontBackend as Backend, random_id

    def error(code: str, message: str) -> CloudFrontException:
        return CloudFrontException(code, message)

    def check_config(backend, config: dict, own_id: str | None) -> None:
        """F3: the viewer certificate is an ACM certificate of this account in us-east-1 (moto
        takes any string). F4: an alias on another distribution -> CNAMEAlreadyExists (409)."""
        cert = config.get("ViewerCertificate") or {}
        arn = cert.get("ACMCertificateArn") if isinstance(cert, dict) else None
        if arn:
            region = arn.split(":")[3] if arn.count(":") >= 5 else ""
            known = region == "us-east-1" and arn in acm_backends[backend.account_id][
                "us-east-1"]._certificates
            if not known:
                raise error("InvalidViewerCertificate",
                            "The specified SSL certificate doesn't exist, isn't in us-east-1 "
                            "region, isn't valid, or doesn't include a valid certificate chain.")
        mine = set(cf_aliases(config))
        for other in backend.distributions.values():
            if other.distribution_id == own_id:
                continue
            taken = mine & set(cf_aliases({"Aliases": other.distribution_config.Aliases}))
            if taken:
                raise error("CNAMEAlreadyExists",
                            "One or more of the CNAMEs you provided are already associated with "
                            f"a different resource: {sorted(taken)[0]}")

    def find(backend, dist_id):
        return backend.distributions.get(dist_id)

    def check_if_match(dist, if_match) -> None:
        """F1: IfMatch must be the distribution's current ETag (moto takes any value)."""
        if dist is not None and if_match and if_match != dist.etag:
            raise error("PreconditionFailed",
                        "The If-Match version is missing or not valid for the resource.")

    orig_create = Backend.create_distribution_with_tags

    def create_distribution_with_tags(self, distribution_config, tags):
        check_config(self, distribution_config, None)
        return orig_create(self, distribution_config, tags)

    orig_update = Backend.update_distribution

    def update_distribution(self, dist_config, _id, if_match):
        """F1: a stale IfMatch -> PreconditionFailed (412); every update makes a new ETag."""
        dist = find(self, _id)
        check_if_match(dist, if_match)
        if dist is not None and dist_config:
            check_config(self, dist_config, _id)
        result = orig_update(self, dist_config, _id, if_match)
        dist.etag = random_id()
        return result[0], result[1], dist.etag

    orig_delete = Backend.delete_distribution

    def delete_distribution(self, distribution_id, if_match):
        """F1 and F2: DeleteDistribution needs the current ETag, and a distribution that is
        disabled and Deployed (DistributionNotDisabled, 409; moto deletes an enabled one)."""
        dist = find(self, distribution_id)
        if dist is not None and if_match:
            check_if_match(dist, if_match)
            if is_true(dist.distribution_config.Enabled) or dist.status != "Deployed":
                raise error("DistributionNotDisabled",
                            "The distribution you are trying to delete has not been disabled.")
        return orig_delete(self, distribution_id, if_match)

    Backend.create_distribution_with_tags = create_distribution_with_tags
    Backend.update_distribution = update_distribution
    Backend.delete_distribution = delete_distribution
