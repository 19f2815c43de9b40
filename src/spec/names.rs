//! Deterministic physical names. A stack's resources are found again by these names plus the
//! ownership tags, so there is no state file.

pub const TAG_STACK: &str = "ballast:stack";
pub const TAG_RESOURCE: &str = "ballast:resource";
/// On the global resources of a two-region stack (Route 53 health checks): the region they
/// belong to.
pub const TAG_REGION: &str = "ballast:region";
/// On the main listener while the stack is in maintenance (`ballast maintenance on`): the ARN of
/// the target group it forwarded to, where `ballast maintenance off` sends traffic back.
pub const TAG_MAINTENANCE: &str = "ballast:maintenance";

/// Whether a tag key is the user's: not ballast's (`ballast:*`, the `Name` it sets) nor AWS's
/// (`aws:*`, and `AmazonECSManaged` on an Auto Scaling group of an ECS capacity provider).
pub fn is_user_tag(key: &str) -> bool {
    !key.starts_with("ballast:")
        && !key.starts_with("aws:")
        && key != "Name"
        && key != "AmazonECSManaged"
}

/// Longest stack name that keeps `<name>-alb` within the 32 characters ALB and TG names allow.
pub const MAX_STACK_NAME: usize = 28;

/// Where a name carries the account id, which only AWS calls know (`Names::access_log_bucket`).
pub const ACCOUNT: &str = "<account>";

#[derive(Clone, Debug)]
pub struct Names {
    pub stack: String,
    pub region: String,
}

impl Names {
    pub fn new(stack: &str, region: &str) -> Self {
        Names {
            stack: stack.to_string(),
            region: region.to_string(),
        }
    }
    pub fn vpc(&self) -> String {
        self.stack.clone()
    }
    pub fn subnet(&self, az: &str) -> String {
        format!("{}-{az}", self.stack)
    }
    /// The private subnet of `az` (tasks, container instances).
    pub fn private_subnet(&self, az: &str) -> String {
        format!("{}-private-{az}", self.stack)
    }
    /// The route table of the private subnet of `az`: its default route to a NAT gateway.
    pub fn private_route_table(&self, az: &str) -> String {
        format!("{}-private-{az}", self.stack)
    }
    /// The NAT gateway in the public subnet of `az`, and its Elastic IP.
    pub fn nat_gateway(&self, az: &str) -> String {
        format!("{}-nat-{az}", self.stack)
    }
    /// The VPC endpoint of `service` (`s3`, `ecr.api`, ...): `network.egress: endpoints`.
    pub fn vpc_endpoint(&self, service: &str) -> String {
        format!("{}-{service}", self.stack)
    }
    /// The stack's own web ACL (`load_balancer.waf: baseline`).
    pub fn web_acl(&self) -> String {
        format!("{}-baseline", self.stack)
    }
    /// The security group of the interface endpoints.
    pub fn endpoints_sg(&self) -> String {
        format!("{}-endpoints", self.stack)
    }
    pub fn igw(&self) -> String {
        self.stack.clone()
    }
    pub fn route_table(&self) -> String {
        format!("{}-public", self.stack)
    }
    pub fn alb_sg(&self) -> String {
        format!("{}-alb", self.stack)
    }
    pub fn service_sg(&self) -> String {
        format!("{}-service", self.stack)
    }
    pub fn alb(&self) -> String {
        format!("{}-alb", self.stack)
    }
    pub fn target_group(&self) -> String {
        format!("{}-tg", self.stack)
    }
    pub fn cluster(&self) -> String {
        self.stack.clone()
    }
    /// The Cloud Map HTTP namespace of the stack's services (ECS Service Connect; named
    /// services only): the stack's name, like its cluster.
    pub fn namespace(&self) -> String {
        self.stack.clone()
    }
    /// The security group every task of a named service carries: a service admits this group
    /// on its port, so the stack's services reach each other (Service Connect) and nothing else
    /// does.
    pub fn tasks_sg(&self) -> String {
        format!("{}-tasks", self.stack)
    }
    pub fn service(&self) -> String {
        self.stack.clone()
    }
    pub fn family(&self) -> String {
        self.stack.clone()
    }
    /// IAM is global: the region keeps two regional copies of a stack apart.
    pub fn execution_role(&self) -> String {
        format!("{}-{}-exec", self.stack, self.region)
    }
    /// The container instances' role and instance profile (`ec2_capacity`).
    pub fn instance_role(&self) -> String {
        format!("{}-{}-instance", self.stack, self.region)
    }
    /// The task role: what the application itself may call (`permissions:`).
    pub fn task_role(&self) -> String {
        format!("{}-{}-task", self.stack, self.region)
    }
    pub fn launch_template(&self) -> String {
        format!("{}-ecs", self.stack)
    }
    pub fn autoscaling_group(&self) -> String {
        format!("{}-ecs", self.stack)
    }
    pub fn capacity_provider(&self) -> String {
        format!("{}-ec2", self.stack)
    }
    pub fn log_group(&self) -> String {
        format!("/ballast/{}", self.stack)
    }
    /// The VPC flow logs' log group (a service name has no `/`: no service's group is named
    /// so).
    pub fn flow_log_group(&self) -> String {
        format!("/ballast/{}/vpc/flow-logs", self.stack)
    }
    /// The role VPC Flow Logs delivers to the log group as.
    pub fn flow_logs_role(&self) -> String {
        format!("{}-{}-flow-logs", self.stack, self.region)
    }
    /// The VPC's flow log (its `Name` tag).
    pub fn flow_log(&self) -> String {
        format!("{}-flow-logs", self.stack)
    }
    /// The SNS topic every alarm notifies.
    pub fn alarm_topic(&self) -> String {
        format!("{}-alarms", self.stack)
    }
    /// A CloudWatch alarm: `<stack>-<key>`, e.g. `web-target_5xx_rate`, `web-slo-latency-1h`.
    pub fn alarm(&self, key: &str) -> String {
        format!("{}{key}", self.alarm_prefix())
    }
    /// The CloudWatch dashboard. Dashboard names are global to the account, so the name
    /// carries the region.
    pub fn dashboard(&self) -> String {
        format!("{}-{}", self.stack, self.region)
    }
    /// What every alarm name of the stack starts with (other stacks' too: `web-` also
    /// matches stack `web-api`; ownership tags tell them apart).
    pub fn alarm_prefix(&self) -> String {
        format!("{}-", self.stack)
    }

    /// The Route 53 SetIdentifier of a failover record ballast owns: `<stack>/<what>`, where
    /// `what` is a region, `failover` (the alias to the second pair) or `fallback` (the page).
    /// Stack names cannot contain `/`, so no other stack's identifiers look like these.
    pub fn set_identifier(&self, what: &str) -> String {
        format!("{}/{what}", self.stack)
    }
    /// Route 53 failover pairs two records, so three tiers (primary, secondary, fallback page)
    /// chain two pairs: `<dns_name>` fails over to this record, which fails over to the page:
    /// `<stack>-failover.<dns_name>`. Validation keeps it a valid DNS name.
    pub fn secondary_record(&self, dns_name: &str) -> String {
        format!("{}-failover.{dns_name}", self.stack)
    }
    /// The `Name` tag of a region's Route 53 health check: `<stack>-<region>`.
    pub fn health_check(&self, region: &str) -> String {
        format!("{}-{region}", self.stack)
    }
    /// The S3 website bucket that serves the fallback page. S3 picks a website bucket by the
    /// request's Host header, so it is named like the host it serves: `dns_name` itself
    /// (validation checks that it is a valid bucket name).
    pub fn fallback_bucket(&self, dns_name: &str) -> String {
        dns_name.to_string()
    }
    /// The load balancer's access-log bucket in this region, in the account's own bucket
    /// namespace (S3's account regional namespace: `<prefix>-<account>-<region>-an`, a name no
    /// other account can take). The account is only known to AWS calls: the name carries
    /// [`ACCOUNT`] in its place (`web-alb-<account>-us-east-1-an`), which the bucket's kind
    /// replaces. At most 63 characters with a stack name of at most `MAX_STACK_NAME`.
    pub fn access_log_bucket(&self) -> String {
        format!("{}-alb-{ACCOUNT}-{}-an", self.stack, self.region)
    }
    /// The `Name` tag of the CloudFront distribution that serves the fallback page over HTTPS
    /// (distributions have no names; discovery finds them by comment or alias, and tags).
    pub fn fallback_distribution(&self) -> String {
        format!("{}-fallback", self.stack)
    }
}

/// The physical names of one service's resources. In the one-service form (`service:`) they
/// are the stack's (`Names`: `web-tg`, family `web`); with named services (`services:`) each
/// carries the service's name (`pizza-api-tg`, family `pizza-api`, log group
/// `/ballast/pizza/api`, ECS service `api` in cluster `pizza`). Validation keeps every one
/// within its AWS limit (`MAX_SERVICE_NAME_IN`).
#[derive(Clone, Debug)]
pub struct ServiceNames {
    pub stack: Names,
    /// `None` in the one-service form.
    pub service: Option<String>,
}

impl ServiceNames {
    /// `<stack>-<what>`, or `<stack>-<service>-<what>` with named services.
    fn join(&self, what: &str) -> String {
        match &self.service {
            None => format!("{}-{what}", self.stack.stack),
            Some(s) => format!("{}-{s}-{what}", self.stack.stack),
        }
    }
    pub fn target_group(&self) -> String {
        self.join("tg")
    }
    pub fn service_sg(&self) -> String {
        self.join("service")
    }
    /// The ECS service, in the stack's cluster: the stack's name, or the service's.
    pub fn service(&self) -> String {
        self.service.clone().unwrap_or_else(|| self.stack.service())
    }
    /// Task definition families are per account and region: `<stack>-<service>`.
    pub fn family(&self) -> String {
        match &self.service {
            None => self.stack.family(),
            Some(s) => format!("{}-{s}", self.stack.stack),
        }
    }
    pub fn execution_role(&self) -> String {
        self.join(&format!("{}-exec", self.stack.region))
    }
    pub fn instance_role(&self) -> String {
        self.join(&format!("{}-instance", self.stack.region))
    }
    pub fn task_role(&self) -> String {
        self.join(&format!("{}-task", self.stack.region))
    }
    pub fn launch_template(&self) -> String {
        self.join("ecs")
    }
    pub fn autoscaling_group(&self) -> String {
        self.join("ecs")
    }
    pub fn capacity_provider(&self) -> String {
        self.join("ec2")
    }
    pub fn log_group(&self) -> String {
        match &self.service {
            None => self.stack.log_group(),
            Some(s) => format!("/ballast/{}/{s}", self.stack.stack),
        }
    }
    /// Application Auto Scaling's name of the ECS service: `service/<cluster>/<service>`.
    pub fn scalable_resource_id(&self) -> String {
        format!("service/{}/{}", self.stack.cluster(), self.service())
    }
    /// A target tracking policy of the service's scalable target (`cpu`, `requests`...).
    pub fn scaling_policy(&self, suffix: &str) -> String {
        self.join(suffix)
    }
    /// A scheduled action of the service's scalable target, by its schedule's name.
    pub fn scheduled_action(&self, schedule: &str) -> String {
        self.join(schedule)
    }
    /// A per-service alarm: `<stack>-<key>`, or `<stack>-<service>-<key>`.
    pub fn alarm(&self, key: &str) -> String {
        self.join(key)
    }
}

/// The logical id of one of a service's nodes: `base` for the one service of `service:`
/// (`tg`, `service`), `<base>.<service>` for a named service (`tg.api`).
pub fn service_id(base: &str, service: Option<&str>) -> String {
    match service {
        None => base.to_string(),
        Some(s) => format!("{base}.{s}"),
    }
}

/// Which service of stack `stack` a physical name made by `ServiceNames::join(what)` is
/// for: `Some(None)` for `<stack>-<what>` (the one service of `service:`), `Some(Some(s))`
/// for `<stack>-<s>-<what>`, `None` for a name of another shape. Names alone cannot tell
/// stack `web`'s service `api` from stack `web-api`: ownership tags do.
pub fn service_of(stack: &str, name: &str, what: &str) -> Option<Option<String>> {
    let rest = name.strip_prefix(stack)?.strip_prefix('-')?;
    if rest == what {
        return Some(None);
    }
    let svc = rest.strip_suffix(what)?.strip_suffix('-')?;
    (!svc.is_empty()).then(|| Some(svc.to_string()))
}

/// The longest a target group name may be (the tightest of the names `ServiceNames` makes):
/// `<stack>-<service>-tg` fits when the stack and service names together leave room.
pub const MAX_TARGET_GROUP_NAME: usize = 32;

/// How many characters a service's name may have in stack `stack`: what
/// `<stack>-<service>-tg` leaves of the 32 a target group name allows.
pub fn max_service_name_in(stack: &str) -> usize {
    MAX_TARGET_GROUP_NAME.saturating_sub(stack.len() + "--tg".len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_of_a_name() {
        assert_eq!(service_of("web", "web-tg", "tg"), Some(None));
        assert_eq!(
            service_of("web", "web-api-tg", "tg"),
            Some(Some("api".into()))
        );
        assert_eq!(
            service_of("web", "web-a-b-tg", "tg"),
            Some(Some("a-b".into()))
        );
        assert_eq!(service_of("web", "webx-tg", "tg"), None);
        assert_eq!(service_of("web", "web--tg", "tg"), None);
        assert_eq!(service_of("web", "web-api-alb", "tg"), None);
        assert_eq!(
            service_of("web", "web-api-us-east-1-exec", "us-east-1-exec"),
            Some(Some("api".into()))
        );
        assert_eq!(service_id("tg", None), "tg");
        assert_eq!(service_id("tg", Some("api")), "tg.api");
    }

    #[test]
    fn route53_names() {
        let n = Names::new("shop", "us-west-2");
        assert_eq!(n.set_identifier("us-east-1"), "shop/us-east-1");
        assert_eq!(n.set_identifier("us-west-2"), "shop/us-west-2");
        assert_eq!(n.set_identifier("fallback"), "shop/fallback");
        assert_eq!(
            n.secondary_record("shop.example.com"),
            "shop-failover.shop.example.com"
        );
        assert_eq!(n.health_check("us-east-1"), "shop-us-east-1");
        assert_eq!(n.fallback_bucket("shop.example.com"), "shop.example.com");
        assert_eq!(n.fallback_distribution(), "shop-fallback");
        assert_eq!(TAG_REGION, "ballast:region");
        // The longest stack name in the longest region still fits a SetIdentifier (128).
        let long = Names::new(&"a".repeat(MAX_STACK_NAME), "ap-southeast-4");
        assert!(long.set_identifier("us-gov-west-1").len() <= 128);
    }

    #[test]
    fn the_one_service_form_keeps_the_stack_names() {
        let stack = Names::new("web", "us-east-1");
        let one = ServiceNames {
            stack: stack.clone(),
            service: None,
        };
        let pairs = [
            (one.target_group(), stack.target_group()),
            (one.service_sg(), stack.service_sg()),
            (one.service(), stack.service()),
            (one.family(), stack.family()),
            (one.execution_role(), stack.execution_role()),
            (one.instance_role(), stack.instance_role()),
            (one.task_role(), stack.task_role()),
            (one.launch_template(), stack.launch_template()),
            (one.autoscaling_group(), stack.autoscaling_group()),
            (one.capacity_provider(), stack.capacity_provider()),
            (one.log_group(), stack.log_group()),
            (one.alarm("cpu_high"), stack.alarm("cpu_high")),
        ];
        for (service, stack) in pairs {
            assert_eq!(service, stack);
        }
    }

    #[test]
    fn named_services_carry_their_name() {
        let api = ServiceNames {
            stack: Names::new("pizza", "us-east-1"),
            service: Some("api".into()),
        };
        assert_eq!(api.target_group(), "pizza-api-tg");
        assert_eq!(api.service_sg(), "pizza-api-service");
        assert_eq!(api.service(), "api");
        assert_eq!(api.family(), "pizza-api");
        assert_eq!(api.execution_role(), "pizza-api-us-east-1-exec");
        assert_eq!(api.instance_role(), "pizza-api-us-east-1-instance");
        assert_eq!(api.task_role(), "pizza-api-us-east-1-task");
        assert_eq!(api.capacity_provider(), "pizza-api-ec2");
        assert_eq!(api.log_group(), "/ballast/pizza/api");
        assert_eq!(api.alarm("cpu_high"), "pizza-api-cpu_high");
        // The longest service name a stack allows keeps the target group within 32, and the
        // IAM role names (64) in the longest region name.
        let stack = "a".repeat(MAX_STACK_NAME - 8);
        let longest = ServiceNames {
            stack: Names::new(&stack, "ap-southeast-4"),
            service: Some("s".repeat(max_service_name_in(&stack))),
        };
        assert_eq!(longest.target_group().len(), MAX_TARGET_GROUP_NAME);
        assert!(longest.instance_role().len() <= 64);
    }
}
