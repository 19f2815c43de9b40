//! How each container is locked down (`readonly_root_filesystem`, `writable_paths`, `user`,
//! `capabilities`) and the task's `runtime_platform`.

use std::collections::BTreeSet;

use serde_saphyr::Location;

use super::error::{did_you_mean, Issues};
use super::model::{EgressModel, HardeningModel, RuntimePlatformModel};
use super::types::*;

/// The Linux capabilities ECS knows (`KernelCapabilities`), and `ALL`.
const CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "SYSLOG",
    "WAKE_ALARM",
];

/// The most writable paths a container may have.
const MAX_WRITABLE_PATHS: usize = 10;

/// One container's hardening fields, as written (a service's `app` or a sidecar).
pub(super) struct Fields<'a> {
    pub container: &'a str,
    pub readonly_root_filesystem: &'a Option<S<bool>>,
    pub writable_paths: &'a Option<S<Vec<S<String>>>>,
    pub user: &'a Option<S<String>>,
    pub capabilities: &'a Option<S<Capabilities>>,
}

impl<'a> Fields<'a> {
    pub fn of_service(s: &'a Service) -> Self {
        Fields {
            container: super::containers::APP,
            readonly_root_filesystem: &s.readonly_root_filesystem,
            writable_paths: &s.writable_paths,
            user: &s.user,
            capabilities: &s.capabilities,
        }
    }

    pub fn of_sidecar(c: &'a Container) -> Self {
        Fields {
            container: &c.name.value,
            readonly_root_filesystem: &c.readonly_root_filesystem,
            writable_paths: &c.writable_paths,
            user: &c.user,
            capabilities: &c.capabilities,
        }
    }
}

/// One container's hardening, defaults applied; `fargate`: the task runs on Fargate, which
/// adds no capability but `SYS_PTRACE`.
pub(super) fn check_hardening(
    f: &Fields<'_>,
    fargate: bool,
    issues: &mut Issues,
) -> HardeningModel {
    let writable_paths = match f.writable_paths {
        None => vec!["/tmp".to_string()],
        Some(list) => check_paths(f.container, list, issues),
    };
    let user = f.user.as_ref().map(|u| {
        let ok = !u.value.is_empty()
            && u.value.len() <= 255
            && !u.value.contains(char::is_whitespace)
            && u.value.split(':').count() <= 2;
        if !ok {
            issues.push(
                &u.referenced,
                format!("invalid user `{}`", u.value),
                "not a user",
                Some("a user name, a uid, or uid:gid (e.g. `101` or `1000:1000`)".into()),
            );
        }
        u.value.clone()
    });
    let caps = f.capabilities.as_ref().map(|c| &c.value);
    let drop = match caps.and_then(|c| c.drop.as_ref()) {
        None => vec!["ALL".to_string()],
        Some(l) => check_capabilities(l, issues),
    };
    let add = match caps.and_then(|c| c.add.as_ref()) {
        None => vec![],
        Some(l) => {
            let add = check_capabilities(l, issues);
            if fargate {
                for c in l.value.iter().filter(|c| c.value != "SYS_PTRACE") {
                    issues.push(
                        &c.referenced,
                        format!("Fargate cannot add the capability `{}`", c.value),
                        "not on Fargate",
                        Some(
                            "Fargate adds only SYS_PTRACE; run as a user that needs no more \
                             (e.g. listen on a port above 1024), or use `ec2_capacity`"
                                .into(),
                        ),
                    );
                }
            }
            add
        }
    };
    HardeningModel {
        readonly_root_filesystem: f.readonly_root_filesystem.as_ref().is_none_or(|r| r.value),
        writable_paths,
        user,
        drop,
        add,
    }
}

/// `writable_paths`: absolute, normalized, each once, and each its own volume name.
fn check_paths(container: &str, list: &S<Vec<S<String>>>, issues: &mut Issues) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut volumes: std::collections::BTreeMap<String, &str> = Default::default();
    if list.value.len() > MAX_WRITABLE_PATHS {
        issues.push(
            &list.referenced,
            format!(
                "{} writable paths; at most {MAX_WRITABLE_PATHS}",
                list.value.len()
            ),
            "too many",
            None,
        );
    }
    for p in &list.value {
        let v = &p.value;
        let ok = v.starts_with('/')
            && v.len() > 1
            && !v.ends_with('/')
            && !v.contains("//")
            && !v.split('/').any(|c| c == ".." || c == ".")
            && !v.contains(char::is_whitespace);
        if !ok {
            issues.push(
                &p.referenced,
                format!("`{v}` is not a writable path"),
                "not a directory path",
                Some(
                    "an absolute directory other than `/`, e.g. `/tmp` or `/var/cache/nginx`"
                        .into(),
                ),
            );
            continue;
        }
        if !seen.insert(v.clone()) {
            issues.push(
                &p.referenced,
                format!("`{v}` is listed twice"),
                "again",
                None,
            );
            continue;
        }
        let volume = super::model::volume_name(container, v);
        if let Some(other) = volumes.insert(volume.clone(), v) {
            issues.push(
                &p.referenced,
                format!("`{v}` and `{other}` make the same volume name `{volume}`"),
                "same volume",
                Some("volume names keep letters, digits, `-` and `_`: rename one path".into()),
            );
        }
    }
    list.value.iter().map(|p| p.value.clone()).collect()
}

/// Capability names as ECS knows them (upper case, without `CAP_`).
fn check_capabilities(list: &S<Vec<S<String>>>, issues: &mut Issues) -> Vec<String> {
    let mut out = Vec::new();
    for c in &list.value {
        if CAPABILITIES.contains(&c.value.as_str()) {
            if !out.contains(&c.value) {
                out.push(c.value.clone());
            }
            continue;
        }
        let bare = c.value.trim_start_matches("CAP_").to_ascii_uppercase();
        issues.push(
            &c.referenced,
            format!("`{}` is not a Linux capability ECS knows", c.value),
            "unknown capability",
            Some(match did_you_mean(&bare, CAPABILITIES.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "e.g. ALL, NET_BIND_SERVICE, SYS_PTRACE".into(),
            }),
        );
    }
    out
}

/// Warns once, at `at`, about the containers that set no `user`.
pub(super) fn warn_root(at: &Location, without_user: &[&str], issues: &mut Issues) {
    if without_user.is_empty() {
        return;
    }
    let (who, verb) = match without_user {
        [one] => (format!("container `{one}`"), "runs"),
        many => (
            format!(
                "containers {}",
                many.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "run",
        ),
    };
    issues.warn(
        at,
        format!("{who} {verb} as the image's user, root in most images (Security Hub ECS.20)"),
        Some(
            "set `user` (e.g. `101` for nginx-unprivileged); an image made to run as root may \
             also need `capabilities: {drop: []}` and `writable_paths` to start"
                .into(),
        ),
    );
}

/// `runtime_platform`: Linux, on X86_64 (default) or ARM64.
pub(super) fn check_runtime_platform(
    p: &Option<S<RuntimePlatform>>,
    issues: &mut Issues,
) -> RuntimePlatformModel {
    const ARCHS: [&str; 2] = ["X86_64", "ARM64"];
    let mut out = RuntimePlatformModel {
        cpu_architecture: "X86_64".into(),
        operating_system_family: "LINUX".into(),
    };
    let Some(p) = p else { return out };
    if let Some(a) = &p.value.cpu_architecture {
        if ARCHS.contains(&a.value.as_str()) {
            out.cpu_architecture = a.value.clone();
        } else {
            issues.push(
                &a.referenced,
                format!("`{}` is not a CPU architecture ECS runs", a.value),
                "unknown architecture",
                Some(match did_you_mean(&a.value.to_ascii_uppercase(), ARCHS) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "X86_64 or ARM64".into(),
                }),
            );
        }
    }
    if let Some(os) = &p.value.operating_system_family {
        if os.value != "LINUX" {
            issues.push(
                &os.referenced,
                format!("ballast runs Linux tasks only, not `{}`", os.value),
                "not LINUX",
                Some("LINUX".into()),
            );
        }
    }
    out
}

/// `egress:`: each rule a CIDR, a port (1-65535) unless `protocol: all`, and tcp, udp or all.
pub(super) fn check_egress(rules: &[S<EgressRule>], issues: &mut Issues) -> Vec<EgressModel> {
    const PROTOCOLS: [&str; 3] = ["tcp", "udp", "all"];
    let mut out = Vec::new();
    for r in rules {
        let r = &r.value;
        super::network::cidr(&r.to, issues);
        let protocol = r.protocol.as_ref().map_or("tcp", |p| p.value.as_str());
        if let Some(p) = r
            .protocol
            .as_ref()
            .filter(|p| !PROTOCOLS.contains(&p.value.as_str()))
        {
            issues.push(
                &p.referenced,
                format!("`{}` is not a protocol an egress rule takes", p.value),
                "unknown protocol",
                Some("tcp, udp or all".into()),
            );
            continue;
        }
        let port = match (&r.port, protocol) {
            (Some(p), "all") => {
                issues.push(
                    &p.referenced,
                    "`protocol: all` opens every port: a rule with it has no `port`",
                    "no port with protocol all",
                    None,
                );
                continue;
            }
            (None, "all") => None,
            (Some(p), _) if (1..=65535).contains(&p.value) => Some(p.value),
            (Some(p), _) => {
                issues.push(
                    &p.referenced,
                    format!("port {} is not between 1 and 65535", p.value),
                    "not a port",
                    None,
                );
                continue;
            }
            (None, _) => {
                issues.push(
                    &r.to.referenced,
                    format!(
                        "an egress rule to {} needs a `port` (or `protocol: all`)",
                        r.to.value
                    ),
                    "no port",
                    None,
                );
                continue;
            }
        };
        out.push(EgressModel {
            protocol: if protocol == "all" {
                "-1".into()
            } else {
                protocol.into()
            },
            port,
            to: r.to.value.clone(),
        });
    }
    out
}
