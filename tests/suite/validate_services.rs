//! `services:`: several services by name, their names and their routes; every rule fails with
//! file:line:col and exit 1 (no AWS needed).

use crate::common;

use common::{rejects, validate};

/// The pizza shop of the issue: `web` at `/`, `api` by path and host, `factory` internal.
const PIZZA: &str = "name: pizza
region: us-east-1
services:
  web:
    image: ghcr.io/acme/pizza-web:1.4
    port: 8080
    route: {path: /}
    autoscaling: {min: 2, max: 10, requests_per_target: 500}
  api:
    image: ghcr.io/acme/pizza-api:2.0
    port: 8080
    route: {paths: [/api/*], host: api.example.com}
  factory:
    image: ghcr.io/acme/pizza-factory:1.0
    port: 9000
    internal: true
";

macro_rules! rejects {
    ($name:ident, $yaml:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let err = rejects($yaml, &[$($needle),+]);
            insta::assert_snapshot!(stringify!($name), err);
        }
    };
}

#[test]
fn three_services_are_valid() {
    let (code, err) = validate(PIZZA);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stack \"pizza\" in us-east-1"), "{err}");
}

/// A routed service's `health_check: {path: ...}` is its target group's; a sidecar-free
/// service may still give its container a check (`command`).
#[test]
fn a_routed_service_may_check_its_target_group_or_its_container() {
    let yaml = PIZZA
        .replace(
            "    route: {paths: [/api/*], host: api.example.com}\n",
            "    route: {paths: [/api/*], host: api.example.com}\n    health_check: {path: /api/healthz, interval: 10}\n",
        )
        .replace(
            "    internal: true\n",
            "    internal: true\n    health_check: {command: [CMD, /bin/ok], retries: 2}\n",
        );
    let (code, err) = validate(&yaml);
    assert_eq!(code, 0, "{err}");
}

rejects!(
    a_health_check_is_the_containers_or_the_target_groups,
    &PIZZA.replace(
        "    route: {paths: [/api/*], host: api.example.com}\n",
        "    route: {paths: [/api/*], host: api.example.com}\n    health_check: {command: [CMD, /bin/ok], path: /healthz}\n",
    ),
    "`path` belongs to a target group's health check, and `command` makes this the container's",
    "stack.yaml:13:"
);

rejects!(
    a_health_check_needs_a_command_or_a_path,
    &PIZZA.replace(
        "    route: {paths: [/api/*], host: api.example.com}\n",
        "    route: {paths: [/api/*], host: api.example.com}\n    health_check: {interval: 10, retries: 2}\n",
    ),
    "a health check needs `command` (the container's) or `path` (its target group's)"
);

rejects!(
    an_internal_service_has_no_target_group_to_check,
    &PIZZA.replace(
        "    internal: true\n",
        "    internal: true\n    health_check: {path: /healthz}\n",
    ),
    "service `factory` is internal: it has no target group to check"
);

rejects!(
    a_target_group_check_keeps_its_timeout_below_its_interval,
    &PIZZA.replace(
        "    route: {paths: [/api/*], host: api.example.com}\n",
        "    route: {paths: [/api/*], host: api.example.com}\n    health_check: {path: /healthz, interval: 5}\n",
    ),
    "health check timeout 5s must be less than the interval 5s"
);

rejects!(
    the_one_service_has_the_load_balancers_check,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  health_check: {path: /healthz}\n",
    "the one service's target group checks `load_balancer.health_check`",
    "stack.yaml:5:17"
);

rejects!(
    an_internal_service_has_no_slo,
    &PIZZA.replace(
        "    internal: true\n",
        "    internal: true\n    slo: {availability: 99.9}\n",
    ),
    "service `factory` is internal: its requests are not counted at the load balancer"
);

rejects!(
    the_one_services_slo_is_the_stacks,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  slo: {availability: 99.9}\n",
    "`slo` of the one service is the stack's `slo:`",
    "stack.yaml:5:8"
);

rejects!(
    a_services_slo_is_checked_as_the_stacks,
    &PIZZA.replace(
        "    route: {paths: [/api/*], host: api.example.com}\n",
        "    route: {paths: [/api/*], host: api.example.com}\n    slo: {availability: 80}\n",
    ),
    "slo availability 80 is out of range",
    "stack.yaml:13:25"
);

rejects!(
    a_permissions_boundary_is_a_policy_arn,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\niam:\n  permissions_boundary: arn:aws:iam::123:role/x\n",
    "`arn:aws:iam::123:role/x` is not the ARN of an IAM managed policy",
    "stack.yaml:6:25"
);

// Two routes of one specificity whose services' names hash to one slot (`cart` and `hj`).
rejects!(
    two_rules_cannot_share_a_priority,
    "name: shop\nregion: us-east-1\nservices:\n  cart:\n    image: cart:1\n    route: {path: /cart/*}\n  hj:\n    image: hj:1\n    route: {path: /hjhj/*}\n",
    "services `cart` and `hj` would take the same listener rule priority",
    "rename one of the two"
);

rejects!(
    service_or_services_not_both,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\nservices:\n  api:\n    image: api\n    route: {path: /}\n",
    "a stack has `service:` or `services:`, not both",
    "stack.yaml:4:3"
);

rejects!(
    a_stack_needs_a_service,
    "name: web\nregion: us-east-1\n",
    "missing required key `service` (or `services`)"
);

rejects!(
    a_route_belongs_to_named_services,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  route: {path: /}\n",
    "`route` belongs to a service of `services:`",
    "stack.yaml:5:10"
);

rejects!(
    service_names_are_lowercase_words,
    "name: pizza\nregion: us-east-1\nservices:\n  Web_1:\n    image: web\n    route: {path: /}\n",
    "invalid service name `Web_1`",
    "stack.yaml:4:3"
);

rejects!(
    service_names_too_long_say_how_many_characters_are_left,
    "name: pizzeria-napoletana\nregion: us-east-1\nservices:\n  storefront:\n    image: web\n    route: {path: /}\n",
    "service name `storefront` is 10 characters",
    "a service name may",
    "1 too many",
    "`pizzeria-napoletana-storefront-tg`"
);

rejects!(
    a_public_service_needs_a_route,
    "name: pizza\nregion: us-east-1\nservices:\n  web:\n    image: web\n",
    "service `web` has no route",
    "stack.yaml:4:3"
);

rejects!(
    an_internal_service_scales_on_no_request_count,
    "name: pizza\nregion: us-east-1\nservices:\n  web:\n    image: web\n    route: {path: /}\n  factory:\n    image: f\n    internal: true\n    autoscaling: {min: 1, max: 3, requests_per_target: 100}\n",
    "service `factory` is internal: it has no target group to count requests per target",
    "stack.yaml:10:56"
);

rejects!(
    an_internal_service_has_no_route,
    "name: pizza\nregion: us-east-1\nservices:\n  web:\n    image: web\n    route: {path: /}\n  factory:\n    image: f\n    internal: true\n    route: {path: /factory/*}\n",
    "service `factory` is internal: it has no route",
    "stack.yaml:10:12"
);

rejects!(
    one_service_at_the_root,
    "name: pizza\nregion: us-east-1\nservices:\n  web:\n    image: web\n    route: {path: /}\n  shop:\n    image: shop\n    route: {path: /}\n",
    "services `shop` and `web` both route `/`"
);

rejects!(
    duplicate_routes,
    "name: pizza\nregion: us-east-1\nservices:\n  api:\n    image: api\n    route: {paths: [/api/*], host: api.example.com}\n  web:\n    image: web\n    route: {paths: [/, /api/*], hosts: [API.example.com]}\n",
    "services `api` and `web` both route path `/api/*` on host `api.example.com`",
    "`/` already matches every path"
);

rejects!(
    a_rule_has_five_conditions_at_most,
    "name: pizza\nregion: us-east-1\nservices:\n  api:\n    image: api\n    route: {paths: [/a, /b, /c, /d], hosts: [a.example.com, b.example.com]}\n",
    "a route has 6 paths and hosts: a listener rule allows 5",
    "1 too many"
);

rejects!(
    paths_and_hosts_are_checked,
    "name: pizza\nregion: us-east-1\nservices:\n  api:\n    image: api\n    route: {paths: [api/*, \"/a b\"], host: \"api example.com\"}\n",
    "path `api/*` does not start with `/`",
    "path `/a b` has a character a path pattern cannot have",
    "host `api example.com` is not a host name"
);

/// `api` of the issue: a telemetry sidecar and a task role.
const API: &str = "name: pizza
region: us-east-1
service:
  image: ghcr.io/acme/pizza-api:2.0
  port: 8080
  cpu: 512
  memory: 1024
  depends_on: {otel: START}
  containers:
    - name: otel
      image: public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0
      essential: false
      memory_reservation: 64
  permissions:
    - {actions: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query], resources: [\"arn:aws:dynamodb:us-east-1:123456789012:table/orders\"]}
";

#[test]
fn a_sidecar_and_a_task_role_are_valid() {
    let (code, err) = validate(API);
    assert_eq!(code, 0, "{err}");
}

rejects!(
    a_sidecar_named_like_the_app_container,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  containers:\n    - {name: app, image: otel}\n    - {name: log, image: fluent}\n    - {name: log, image: fluent}\n",
    "a sidecar cannot be named `app`",
    "stack.yaml:6:14",
    "two containers are named `log`"
);

rejects!(
    depends_on_cycles,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  depends_on: {init: START}\n  containers:\n    - name: init\n      image: busybox\n      depends_on: {app: START}\n",
    "the containers wait for each other in a cycle: app -> init -> app"
);

rejects!(
    depends_on_names_containers_and_conditions,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  depends_on: {otle: START, init: DONE, otel: HEALTHY}\n  containers:\n    - {name: otel, image: otel}\n    - {name: init, image: busybox}\n    - {name: migrate, image: m, depends_on: {init: SUCCESS}}\n",
    "container `app` waits for `otle`, which is not a container of the task",
    "did you mean `otel`?",
    "`DONE` is not a condition ECS knows",
    "`otel` has no health check",
    "`init` is essential"
);

rejects!(
    sidecars_leave_the_app_container_memory,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  containers:\n    - {name: otel, image: otel, memory_reservation: 300}\n    - {name: log, image: log, memory: 212, memory_reservation: 300}\n",
    "memory_reservation 300 is above the container's memory limit 212",
    "the sidecars reserve 600 MiB of the task's 512"
);

rejects!(
    permissions_are_actions_on_arns,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  permissions:\n    - {actions: [dynamodb:GetItem, GetItem], resources: [orders]}\n    - {actions: [], resources: [\"*\"]}\n",
    "`GetItem` is not an IAM action",
    "`orders` is not an ARN",
    "`actions` is empty"
);
