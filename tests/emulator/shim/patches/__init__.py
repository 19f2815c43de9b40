"""The fidelity patches, one module per service. Each patch is registered once, next to its
code, with @patch (shim/registry.py); the README's table lists them in this import order."""

from . import (ecs, ec2, elbv2, appscaling, cloudwatch, sns, route53, s3, cloudfront, ssm, logs,
               servicediscovery, iam, wafv2)

__all__ = ["ecs", "ec2", "elbv2", "appscaling", "cloudwatch", "sns", "route53", "s3",
           "cloudfront", "ssm", "logs", "servicediscovery", "iam", "wafv2"]
