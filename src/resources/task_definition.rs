//! `aws_ecs_task_definition`: the Fargate task. Task definitions are immutable: a change
//! registers a new revision (an in-place update of the family), never a replacement.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    ApplicationProtocol, Compatibility, ContainerCondition, ContainerDefinition,
    ContainerDependency, CpuArchitecture, HealthCheck, KernelCapabilities, KeyValuePair,
    LinuxParameters, LogConfiguration, LogDriver, MountPoint, NetworkMode, OsFamily, PortMapping,
    RuntimePlatform, Secret, TaskDefinitionFamilyStatus, TaskDefinitionField, TaskDefinitionStatus,
    TransportProtocol, Volume,
};

use super::common::{found_id, i, s, strs};
use super::ecs::{ecs_owner, ecs_tags};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::service_id;
use crate::spec::{
    image_in, volume_name, ContainerHealthModel, ContainerModel, HardeningModel, View,
};
use crate::vmap;

pub struct TaskDefinition;

pub const KIND: &str = "aws_ecs_task_definition";
pub const ID: &str = "taskdef";

/// The service's own container (the sidecars have names of their own).
pub const CONTAINER: &str = crate::spec::APP;

#[async_trait]
impl Kind<Clients> for TaskDefinition {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitionFamilies",
                "ecs:ListTaskDefinitions",
            ],
            write_any: &[
                "ecs:RegisterTaskDefinition",
                "ecs:DeregisterTaskDefinition",
                "ecs:TagResource",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ecs::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::iam_role::KIND, super::log_group::KIND]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let svc = v.service();
        let health = svc.health_check.as_ref().map(health_value);
        let mut n = Node::new(KIND, v.id(ID), v.service_names().family())
            .attr(
                "compatibility",
                if svc.ec2_capacity.is_some() {
                    "EC2"
                } else {
                    "FARGATE"
                },
            )
            .attr("cpu", svc.cpu)
            .attr("memory", svc.memory)
            .attr("image", image_in(&svc.image, v.region))
            .attr("container_port", svc.port)
            .attr("environment", str_map(&svc.environment))
            // Names and where ECS reads the values from: the values never pass through here.
            .attr("secrets", str_map(&svc.secrets))
            .attr(
                "command",
                svc.command
                    .as_ref()
                    .map(|c| Value::List(c.iter().map(Value::str).collect())),
            )
            .attr("health_check", health)
            // The sidecars in the spec's order, and what the app container waits for: both
            // always set (empty without any), so removing the last sidecar is a change too.
            .attr(
                "containers",
                Value::List(
                    svc.containers
                        .iter()
                        .map(|c| sidecar_value(c, v.region))
                        .collect(),
                ),
            )
            .attr("depends_on", str_map(&svc.depends_on))
            .attr(
                "execution_role_arn",
                Value::reference(&v.id(super::iam_role::EXECUTION_ID), "arn"),
            )
            // The task role, with `permissions:`: what the application calls AWS as.
            .attr(
                "task_role_arn",
                (!svc.permissions.is_empty())
                    .then(|| Value::reference(&v.id(super::iam_role::TASK_ID), "arn")),
            )
            .attr(
                "log_group",
                Value::reference(&v.id(super::log_group::ID), "name"),
            )
            .attr("log_region", v.region)
            .attr(
                "runtime_platform",
                vmap! {
                    "cpu_architecture" => svc.runtime_platform.cpu_architecture.as_str(),
                    "operating_system_family" => svc.runtime_platform.operating_system_family.as_str(),
                },
            );
        for (k, value) in hardening_value(&svc.hardening) {
            n = n.attr(k, value);
        }
        // Named services: Service Connect refers to the app's port mapping by name, and
        // speaks HTTP to it. (Left out in the one-service form, which has no Service Connect.)
        if v.stack.named_services {
            n = n
                .attr("port_name", super::ecs::PORT_NAME)
                .attr("app_protocol", "http");
        }
        n.outputs_change_on_update = true;
        vec![n]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // Each desired family (and the one service's) by name and the listing at once; then
        // the families only the listing showed. One registered a moment ago is found before
        // the listing shows it.
        let mut names: Vec<String> = desired.iter().map(|n| n.name.clone()).collect();
        names.push(crate::spec::Names::new(&stack.name, &stack.region).family());
        names.sort();
        names.dedup();
        let read_all = |families: Vec<String>| {
            futures::future::try_join_all(
                families
                    .into_iter()
                    .map(|f| async move { read(c, stack, desired, &f).await }),
            )
        };
        let (mut found, listed) = futures::try_join!(read_all(names.clone()), families(c, stack))?;
        let extra: Vec<String> = listed.into_iter().filter(|f| !names.contains(f)).collect();
        if !extra.is_empty() {
            found.extend(read_all(extra).await?);
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// ListTaskDefinitionFamilies alone: a family's name is unique in the region, so one of
    /// the stack's that this run registered or deregistered is the stack's.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        Ok(families(c, stack)
            .await?
            .into_iter()
            .map(|family| Observed {
                id: id_of(stack, &family),
                kind: KIND,
                name: family.clone(),
                physical_id: family,
                attrs: Attrs::new(),
                outputs: Outputs::new(),
                owned: true,
            })
            .collect())
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        register(c, stack, node, attrs).await
    }

    async fn update(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
        _: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        register(c, stack, node, attrs).await
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let family = &cur.physical_id;
        let list = c
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .send()
            .await
            .ctx(|| format!("list task definitions of {family}"))?;
        let marker = format!(":task-definition/{family}:");
        for arn in list
            .task_definition_arns()
            .iter()
            .filter(|a| a.contains(&marker))
        {
            c.ecs
                .deregister_task_definition()
                .task_definition(arn)
                .send()
                .await
                .ctx(|| format!("deregister task definition {arn}"))?;
        }
        Ok(())
    }
}

/// Register a revision of the family. The tags come from the node, so a new revision carries
/// the same ownership as the first.
async fn register(
    c: &Clients,
    stack: &StackRef,
    node: &Node,
    attrs: &Attrs,
) -> Result<Outputs, BoxError> {
    let log = |prefix: &str| -> Result<LogConfiguration, BoxError> {
        Ok(LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", s(attrs, "log_group")?)
            .options("awslogs-region", s(attrs, "log_region")?)
            .options("awslogs-stream-prefix", prefix)
            .build()?)
    };
    let mut container = ContainerDefinition::builder()
        .name(CONTAINER)
        .image(s(attrs, "image")?)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(i(attrs, "container_port")?)
                .protocol(TransportProtocol::Tcp)
                .set_name(
                    attrs
                        .get("port_name")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                )
                .set_app_protocol(
                    attrs
                        .get("app_protocol")
                        .and_then(Value::as_str)
                        .map(ApplicationProtocol::from),
                )
                .build(),
        )
        .log_configuration(log(CONTAINER)?);
    container = container.set_environment(key_values(attrs.get("environment")));
    if let Some(secrets) = attrs.get("secrets").and_then(Value::as_map) {
        for (k, v) in secrets {
            container = container.secrets(
                Secret::builder()
                    .name(k)
                    .value_from(v.as_str().unwrap_or_default())
                    .build()?,
            );
        }
    }
    if attrs.get("command").is_some_and(|v| !v.is_null()) {
        container = container.set_command(Some(strs(attrs, "command")));
    }
    if let Some(h) = attrs.get("health_check").and_then(Value::as_map) {
        container = container.health_check(health_check(h)?);
    }
    container = container.set_depends_on(dependencies(attrs.get("depends_on")));
    let mut volumes = Vec::new();
    container = harden(container, CONTAINER, |k| attrs.get(k), &mut volumes);
    let mut containers = vec![container.build()];
    for sc in attrs.get("containers").map(Value::as_list).unwrap_or(&[]) {
        containers.push(sidecar_definition(sc, log, &mut volumes)?);
    }
    let platform = attrs.get("runtime_platform").and_then(Value::as_map);
    let platform = platform.map(|p| {
        let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
        RuntimePlatform::builder()
            .cpu_architecture(CpuArchitecture::from(get("cpu_architecture")))
            .operating_system_family(OsFamily::from(get("operating_system_family")))
            .build()
    });
    let r = c
        .ecs
        .register_task_definition()
        .family(&node.name)
        .requires_compatibilities(Compatibility::from(s(attrs, "compatibility")?))
        .network_mode(NetworkMode::Awsvpc)
        .cpu(i(attrs, "cpu")?.to_string())
        .memory(i(attrs, "memory")?.to_string())
        .execution_role_arn(s(attrs, "execution_role_arn")?)
        .set_task_role_arn(
            attrs
                .get("task_role_arn")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
        .set_container_definitions(Some(containers))
        .set_volumes(Some(volumes).filter(|v| !v.is_empty()))
        .set_runtime_platform(platform)
        .set_tags(Some(ecs_tags(stack, node)))
        .send()
        .await
        .ctx(|| format!("register task definition {}", node.name))?;
    let arn = r
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string();
    Ok(Outputs::from([
        ("arn".into(), arn),
        ("family".into(), node.name.clone()),
    ]))
}

/// The stack's task definition family `family`, its latest ACTIVE revision, read whole
/// (none when AWS has none, or another stack's look-alike no desired node is named like).
async fn read(
    c: &Clients,
    stack: &StackRef,
    desired: &[&Node],
    family: &str,
) -> Result<Option<Observed>, AwsError> {
    let family = family.to_string();
    let r = c
        .ecs
        .describe_task_definition()
        .task_definition(&family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .ctx(|| format!("describe task definition {family}"));
    let r = match r {
        Err(e) if e.is_not_found() => return Ok(None),
        r => r?,
    };
    let Some(td) = r.task_definition() else {
        return Ok(None);
    };
    if td.status() != Some(&TaskDefinitionStatus::Active) {
        return Ok(None);
    }
    let own = ecs_owner(stack, r.tags());
    let Some(id) = found_id(&own, desired, &family, || id_of(stack, &family)) else {
        return Ok(None);
    };
    let cd = td
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(CONTAINER));
    let opt = |o: Option<&LogConfiguration>, k: &str| {
        o.and_then(|l| l.options()).and_then(|m| m.get(k)).cloned()
    };
    let log = cd.and_then(|c| c.log_configuration());
    let health = cd.and_then(|c| c.health_check()).map(health_of);
    let scratch = scratch_volumes(td.volumes());
    let sidecars: Vec<Value> = td
        .container_definitions()
        .iter()
        .filter(|c| c.name() != Some(CONTAINER))
        .map(|c| sidecar_of(c, &scratch))
        .collect();
    let command = cd
        .map(|c| c.command())
        .filter(|c| !c.is_empty())
        .map(|c| Value::List(c.iter().map(Value::str).collect()));
    let num = |v: Option<&str>| Value::from(v.and_then(|s| s.parse::<i64>().ok()));
    let arn = td.task_definition_arn().unwrap_or_default().to_string();
    let attrs = Attrs::from([
        ("tags".into(), own.tags.clone()),
        (
            "compatibility".into(),
            // A definition registered for EC2 also lists EXTERNAL etc.; ballast asks for one.
            Value::str(
                if td
                    .requires_compatibilities()
                    .iter()
                    .any(|c| c.as_str() == "EC2")
                {
                    "EC2"
                } else {
                    "FARGATE"
                },
            ),
        ),
        ("cpu".into(), num(td.cpu())),
        ("memory".into(), num(td.memory())),
        ("image".into(), Value::opt_str(cd.and_then(|c| c.image()))),
        (
            "container_port".into(),
            Value::from(
                cd.and_then(|c| c.port_mappings().first())
                    .and_then(|p| p.container_port())
                    .map(i64::from),
            ),
        ),
        (
            "port_name".into(),
            Value::opt_str(
                cd.and_then(|c| c.port_mappings().first())
                    .and_then(|p| p.name()),
            ),
        ),
        (
            "app_protocol".into(),
            Value::opt_str(
                cd.and_then(|c| c.port_mappings().first())
                    .and_then(|p| p.app_protocol())
                    .map(|p| p.as_str()),
            ),
        ),
        (
            "environment".into(),
            environment_of(cd.map(|c| c.environment()).unwrap_or_default()),
        ),
        (
            "secrets".into(),
            Value::Map(
                cd.map(|c| c.secrets())
                    .unwrap_or_default()
                    .iter()
                    .map(|x| (x.name().to_string(), Value::str(x.value_from())))
                    .collect(),
            ),
        ),
        ("command".into(), command.into()),
        ("health_check".into(), health.into()),
        ("containers".into(), Value::List(sidecars)),
        (
            "depends_on".into(),
            conditions_of(cd.map(|c| c.depends_on()).unwrap_or_default()),
        ),
        (
            "execution_role_arn".into(),
            Value::opt_str(td.execution_role_arn()),
        ),
        ("task_role_arn".into(), Value::opt_str(td.task_role_arn())),
        ("log_group".into(), Value::from(opt(log, "awslogs-group"))),
        ("log_region".into(), Value::from(opt(log, "awslogs-region"))),
        (
            "runtime_platform".into(),
            td.runtime_platform()
                .map(|p| {
                    vmap! {
                        "cpu_architecture" => p.cpu_architecture().map(|a| a.as_str()),
                        "operating_system_family" => p.operating_system_family().map(|o| o.as_str()),
                    }
                })
                .into(),
        ),
    ]);
    let mut attrs = attrs;
    if let Some(cd) = cd {
        attrs.extend(
            hardening_of(cd, &scratch)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
    }
    Ok(Some(Observed {
        id,
        kind: KIND,
        name: family.clone(),
        outputs: Outputs::from([("arn".into(), arn), ("family".into(), family.clone())]),
        physical_id: family,
        attrs,
        owned: own.owned,
    }))
}

/// The logical id of the stack's family `family` without a `ballast:resource` tag: the one
/// service of `service:` has the stack's name as its family, a named service
/// `<stack>-<service>`.
fn id_of(stack: &StackRef, family: &str) -> String {
    let svc = family
        .strip_prefix(stack.name.as_str())
        .and_then(|r| r.strip_prefix('-'));
    service_id(ID, svc)
}

/// The task definition families with an ACTIVE revision that may be the stack's
/// (`<stack>`, `<stack>-<service>`): every page of ListTaskDefinitionFamilies by prefix.
async fn families(c: &Clients, stack: &StackRef) -> Result<Vec<String>, AwsError> {
    let mut pages = c
        .ecs
        .list_task_definition_families()
        .family_prefix(&stack.name)
        .status(TaskDefinitionFamilyStatus::Active)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.ctx(|| format!("list task definition families {}*", stack.name))?;
        out.extend(page.families.unwrap_or_default().into_iter().filter(|f| {
            *f == stack.name
                || f.strip_prefix(stack.name.as_str())
                    .is_some_and(|r| r.starts_with('-'))
        }));
    }
    Ok(out)
}

/// A container's health check as an attribute.
fn health_value(h: &ContainerHealthModel) -> Value {
    vmap! {
        "command" => Value::List(h.command.iter().map(Value::str).collect()),
        "interval" => h.interval,
        "timeout" => h.timeout,
        "retries" => h.retries,
        "start_period" => h.start_period,
    }
}

/// A container's health check as ECS describes it (its defaults filled in).
fn health_of(h: &HealthCheck) -> Value {
    vmap! {
        "command" => Value::List(h.command().iter().map(Value::str).collect()),
        "interval" => i64::from(h.interval().unwrap_or(30)),
        "timeout" => i64::from(h.timeout().unwrap_or(5)),
        "retries" => i64::from(h.retries().unwrap_or(3)),
        "start_period" => i64::from(h.start_period().unwrap_or(0)),
    }
}

/// The health check an attribute map asks for.
fn health_check(h: &BTreeMap<String, Value>) -> Result<HealthCheck, BoxError> {
    let n = |k: &str| h.get(k).and_then(Value::as_int).map(|v| v as i32);
    Ok(HealthCheck::builder()
        .set_command(Some(
            h.get("command")
                .map(Value::as_list)
                .unwrap_or(&[])
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ))
        .set_interval(n("interval"))
        .set_timeout(n("timeout"))
        .set_retries(n("retries"))
        .set_start_period(n("start_period"))
        .build()?)
}

/// A map of strings (environment, secrets, container name -> condition) as an attribute.
fn str_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect())
}

/// A container's environment as ECS describes it, in the shape of [`str_map`].
fn environment_of(env: &[KeyValuePair]) -> Value {
    Value::Map(
        env.iter()
            .filter_map(|kv| {
                Some((
                    kv.name()?.to_string(),
                    Value::str(kv.value().unwrap_or_default()),
                ))
            })
            .collect(),
    )
}

/// The environment an attribute asks for (`None` when empty: ECS keeps no empty list).
fn key_values(v: Option<&Value>) -> Option<Vec<KeyValuePair>> {
    let m = v.and_then(Value::as_map).filter(|m| !m.is_empty())?;
    Some(
        m.iter()
            .map(|(k, v)| {
                KeyValuePair::builder()
                    .name(k)
                    .value(v.as_str().unwrap_or_default())
                    .build()
            })
            .collect(),
    )
}

/// A container's `dependsOn` as an attribute.
fn conditions_of(deps: &[ContainerDependency]) -> Value {
    Value::Map(
        deps.iter()
            .map(|d| {
                (
                    d.container_name().to_string(),
                    Value::str(d.condition().as_str()),
                )
            })
            .collect(),
    )
}

/// The `dependsOn` an attribute asks for (`None` when empty: ECS keeps no empty list).
fn dependencies(v: Option<&Value>) -> Option<Vec<ContainerDependency>> {
    let m = v.and_then(Value::as_map).filter(|m| !m.is_empty())?;
    Some(
        m.iter()
            .filter_map(|(name, cond)| {
                ContainerDependency::builder()
                    .container_name(name)
                    .condition(ContainerCondition::from(cond.as_str().unwrap_or("START")))
                    .build()
                    .ok()
            })
            .collect(),
    )
}

/// A CPU share or memory figure: zero (what ECS reports when none is set) is none.
fn figure(v: Option<i32>) -> Value {
    Value::from(v.filter(|n| *n > 0).map(i64::from))
}

/// A sidecar's settings without those it does not set (a shorter plan line; both sides alike).
fn compact(v: Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(
            m.into_iter()
                .filter(|(_, v)| !v.is_null() && v.as_map().is_none_or(|m| !m.is_empty()))
                .collect(),
        ),
        v => v,
    }
}

/// A sidecar as an attribute: every setting ballast writes of it.
fn sidecar_value(c: &ContainerModel, region: &str) -> Value {
    with(
        hardening_value(&c.hardening),
        vmap! {
            "name" => c.name.as_str(),
            "image" => image_in(&c.image, region),
            "essential" => c.essential,
            "cpu" => c.cpu.filter(|n| *n > 0),
            "memory" => c.memory.filter(|n| *n > 0),
            "memory_reservation" => c.memory_reservation.filter(|n| *n > 0),
            "command" => c.command.as_ref().filter(|c| !c.is_empty()).map(|c| Value::List(c.iter().map(Value::str).collect())),
            "environment" => str_map(&c.environment),
            "health_check" => c.health_check.as_ref().map(health_value),
            "depends_on" => str_map(&c.depends_on),
        },
    )
}

/// `map` with `more` in it, compacted.
fn with(more: Vec<(&'static str, Value)>, map: Value) -> Value {
    match map {
        Value::Map(mut m) => {
            m.extend(more.into_iter().map(|(k, v)| (k.to_string(), v)));
            compact(Value::Map(m))
        }
        v => v,
    }
}

/// A sidecar as ECS describes it, in the shape of [`sidecar_value`].
fn sidecar_of(c: &ContainerDefinition, scratch: &[&str]) -> Value {
    with(
        hardening_of(c, scratch),
        vmap! {
            "name" => c.name().unwrap_or_default(),
            "image" => c.image().unwrap_or_default(),
            "essential" => c.essential().unwrap_or(true),
            "cpu" => figure(Some(c.cpu())),
            "memory" => figure(c.memory()),
            "memory_reservation" => figure(c.memory_reservation()),
            "command" => Some(c.command()).filter(|c| !c.is_empty()).map(|c| Value::List(c.iter().map(Value::str).collect())),
            "environment" => environment_of(c.environment()),
            "health_check" => c.health_check().map(health_of),
            "depends_on" => conditions_of(c.depends_on()),
        },
    )
}

/// The container definition of a sidecar attribute; its logs go to the service's log group
/// under its own name.
fn sidecar_definition(
    v: &Value,
    log: impl Fn(&str) -> Result<LogConfiguration, BoxError>,
    volumes: &mut Vec<Volume>,
) -> Result<ContainerDefinition, BoxError> {
    let m = v.as_map().ok_or("a sidecar attribute is not a map")?;
    let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
    let name = get("name").as_str().unwrap_or_default().to_string();
    let int = |k: &str| get(k).as_int().map(|n| n as i32);
    let mut d = ContainerDefinition::builder()
        .name(&name)
        .image(get("image").as_str().unwrap_or_default())
        .essential(get("essential").as_bool().unwrap_or(true))
        .set_cpu(int("cpu"))
        .set_memory(int("memory"))
        .set_memory_reservation(int("memory_reservation"))
        .log_configuration(log(&name)?)
        .set_depends_on(dependencies(Some(get("depends_on"))));
    if !get("command").is_null() {
        d = d.set_command(Some(
            get("command")
                .as_list()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ));
    }
    d = d.set_environment(key_values(Some(get("environment"))));
    if let Some(h) = get("health_check").as_map() {
        d = d.health_check(health_check(h)?);
    }
    d = harden(d, &name, |k| m.get(k), volumes);
    Ok(d.build())
}

/// A container's hardening as attributes (the app's own, or inside a sidecar's map).
fn hardening_value(h: &HardeningModel) -> Vec<(&'static str, Value)> {
    let list = |l: &[String]| Value::List(l.iter().map(Value::str).collect());
    vec![
        (
            "readonly_root_filesystem",
            Value::Bool(h.readonly_root_filesystem),
        ),
        ("writable_paths", list(&h.writable_paths)),
        ("user", Value::opt_str(h.user.as_deref())),
        (
            "capabilities",
            vmap! { "drop" => list(&h.drop), "add" => list(&h.add) },
        ),
        ("init_process_enabled", Value::Bool(true)),
    ]
}

/// The names of the task's scratch volumes: no host path, no EFS, Docker or FSx
/// configuration (what `writable_paths` make; ECS empties them at each start).
fn scratch_volumes(volumes: &[Volume]) -> Vec<&str> {
    volumes
        .iter()
        .filter(|v| {
            v.host().and_then(|h| h.source_path()).is_none()
                && v.efs_volume_configuration().is_none()
                && v.docker_volume_configuration().is_none()
                && v.fsx_windows_file_server_volume_configuration().is_none()
                && v.configured_at_launch() != Some(true)
        })
        .filter_map(|v| v.name())
        .collect()
}

/// A container's hardening as ECS describes it, in the shape of [`hardening_value`]: its
/// writable paths are its writable mounts of scratch volumes.
fn hardening_of(c: &ContainerDefinition, scratch: &[&str]) -> Vec<(&'static str, Value)> {
    let list = |l: &[String]| Value::List(l.iter().map(Value::str).collect());
    let linux = c.linux_parameters();
    let caps = linux.and_then(|l| l.capabilities());
    let writable: Vec<String> = c
        .mount_points()
        .iter()
        .filter(|m| m.read_only() != Some(true))
        .filter(|m| m.source_volume().is_some_and(|v| scratch.contains(&v)))
        .filter_map(|m| m.container_path().map(str::to_string))
        .collect();
    vec![
        (
            "readonly_root_filesystem",
            Value::Bool(c.readonly_root_filesystem().unwrap_or(false)),
        ),
        ("writable_paths", list(&writable)),
        ("user", Value::opt_str(c.user())),
        (
            "capabilities",
            vmap! {
                "drop" => list(caps.map(|k| k.drop()).unwrap_or_default()),
                "add" => list(caps.map(|k| k.add()).unwrap_or_default()),
            },
        ),
        (
            "init_process_enabled",
            Value::Bool(
                linux
                    .and_then(|l| l.init_process_enabled())
                    .unwrap_or(false),
            ),
        ),
    ]
}

/// Locks `d` (the container `name`) down as its attributes say; its writable paths become
/// scratch volumes of the task, added to `volumes`.
fn harden<'a>(
    d: aws_sdk_ecs::types::builders::ContainerDefinitionBuilder,
    name: &str,
    get: impl Fn(&str) -> Option<&'a Value>,
    volumes: &mut Vec<Volume>,
) -> aws_sdk_ecs::types::builders::ContainerDefinitionBuilder {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.map(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let caps = get("capabilities").and_then(Value::as_map);
    let cap = |k: &str| strings(caps.and_then(|c| c.get(k)));
    let mut d = d
        .readonly_root_filesystem(
            get("readonly_root_filesystem").and_then(Value::as_bool) == Some(true),
        )
        .set_user(get("user").and_then(Value::as_str).map(str::to_string))
        .linux_parameters(
            LinuxParameters::builder()
                .capabilities(
                    KernelCapabilities::builder()
                        .set_drop(Some(cap("drop")).filter(|c| !c.is_empty()))
                        .set_add(Some(cap("add")).filter(|c| !c.is_empty()))
                        .build(),
                )
                .init_process_enabled(
                    get("init_process_enabled").and_then(Value::as_bool) == Some(true),
                )
                .build(),
        );
    for path in strings(get("writable_paths")) {
        let volume = volume_name(name, &path);
        volumes.push(Volume::builder().name(&volume).build());
        d = d.mount_points(
            MountPoint::builder()
                .source_volume(volume)
                .container_path(path)
                .read_only(false)
                .build(),
        );
    }
    d
}
