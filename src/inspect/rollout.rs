//! Following an ECS rollout by its deployment id to its verdict (done, rolled back, timed out)
//! for `deploy`; `status.rs` reads what `ballast status` shows. Not a resource kind: commands call these after (or instead of) applying a plan. Returns
//! data; rendering is `src/render`'s job.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::DesiredStatus;

use crate::aws::{AwsError, Ctx};

/// One poll of the rollout being watched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub deployment_id: String,
    pub rollout_state: String,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    pub failed_tasks: i32,
    /// Service events not reported before, oldest first.
    pub new_events: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Completed {
        running: i32,
        desired: i32,
    },
    /// The circuit breaker or a rollback alarm stopped the deployment.
    RolledBack {
        reason: String,
        stopped_tasks: Vec<String>,
    },
    TimedOut {
        last: Progress,
    },
}

pub struct Watch<'a> {
    pub ecs: &'a aws_sdk_ecs::Client,
    pub cluster: String,
    pub service: String,
    /// The rollout to follow; `None`: the service's PRIMARY deployment at the first poll.
    pub deployment_id: Option<String>,
    pub timeout: Duration,
    pub poll: Duration,
}

impl Watch<'_> {
    /// Poll until the deployment completes, fails, or the timeout passes. Bounded by `timeout`.
    pub async fn run(
        &self,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Verdict, AwsError> {
        let deadline = Instant::now() + self.timeout;
        let mut seen: Option<HashSet<String>> = None;
        let mut deployment_id = self.deployment_id.clone().unwrap_or_default();
        loop {
            let r = self
                .ecs
                .describe_services()
                .cluster(&self.cluster)
                .services(&self.service)
                .send()
                .await
                .ctx(|| format!("describe service {}", self.service))?;
            let svc = r.services().first().ok_or_else(|| {
                AwsError::new(
                    format!("follow service {}", self.service),
                    "the service no longer exists",
                )
            })?;
            let mut events: Vec<(String, String)> = svc
                .events()
                .iter()
                .map(|e| {
                    (
                        e.id().unwrap_or_default().to_string(),
                        e.message().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            events.reverse(); // ECS lists newest first
            let new_events = match &mut seen {
                // The first poll shows only the latest event, for context.
                None => {
                    seen = Some(events.iter().map(|(id, _)| id.clone()).collect());
                    events.last().map(|(_, m)| m.clone()).into_iter().collect()
                }
                Some(seen) => events
                    .into_iter()
                    .filter(|(id, _)| seen.insert(id.clone()))
                    .map(|(_, m)| m)
                    .collect(),
            };
            if deployment_id.is_empty() {
                deployment_id = crate::resources::ecs::primary_deployment(svc).unwrap_or_default();
            }
            let Some(d) = svc
                .deployments()
                .iter()
                .find(|d| d.id() == Some(deployment_id.as_str()))
            else {
                let reason = format!(
                    "deployment {deployment_id} is gone: ECS rolled it back or a newer deployment replaced it"
                );
                let stopped_tasks = self.stopped_tasks(&deployment_id).await?;
                return Ok(Verdict::RolledBack {
                    reason,
                    stopped_tasks,
                });
            };
            let last = Progress {
                deployment_id: deployment_id.clone(),
                rollout_state: d
                    .rollout_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "IN_PROGRESS".into()),
                running: d.running_count(),
                desired: d.desired_count(),
                pending: d.pending_count(),
                failed_tasks: d.failed_tasks(),
                new_events,
            };
            on_progress(&last);
            match last.rollout_state.as_str() {
                "COMPLETED" => {
                    return Ok(Verdict::Completed {
                        running: last.running,
                        desired: last.desired,
                    })
                }
                "FAILED" => {
                    let reason = d
                        .rollout_state_reason()
                        .unwrap_or("the deployment failed")
                        .to_string();
                    let stopped_tasks = self.stopped_tasks(&deployment_id).await?;
                    return Ok(Verdict::RolledBack {
                        reason,
                        stopped_tasks,
                    });
                }
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Verdict::TimedOut { last });
            }
            tokio::time::sleep(self.poll.min(deadline - now)).await;
        }
    }

    /// Why this deployment's tasks stopped (at most 10).
    async fn stopped_tasks(&self, deployment_id: &str) -> Result<Vec<String>, AwsError> {
        let list = self
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .service_name(&self.service)
            .desired_status(DesiredStatus::Stopped)
            .max_results(10)
            .send()
            .await
            .ctx(|| format!("list stopped tasks of {}", self.service))?;
        if list.task_arns().is_empty() {
            return Ok(vec![]);
        }
        let tasks = self
            .ecs
            .describe_tasks()
            .cluster(&self.cluster)
            .set_tasks(Some(list.task_arns().to_vec()))
            .send()
            .await
            .ctx(|| format!("describe stopped tasks of {}", self.service))?;
        Ok(tasks
            .tasks()
            .iter()
            .filter(|t| t.started_by().is_none_or(|s| s == deployment_id))
            .map(|t| {
                let id = t
                    .task_arn()
                    .and_then(|a| a.rsplit('/').next())
                    .unwrap_or("?");
                let mut why = t.stopped_reason().unwrap_or("stopped").to_string();
                for c in t.containers() {
                    if let Some(r) = c.reason() {
                        why.push_str(&format!("; {}: {r}", c.name().unwrap_or("container")));
                    } else if let Some(code) = c.exit_code().filter(|c| *c != 0) {
                        why.push_str(&format!(
                            "; {} exited with {code}",
                            c.name().unwrap_or("container")
                        ));
                    }
                }
                format!("task {id}: {why}")
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types::{
        Container, Deployment, DeploymentRolloutState, Service, ServiceEvent, Task,
    };
    use aws_sdk_ecs::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn service(
        state: DeploymentRolloutState,
        running: i32,
        events: &[(&str, &str)],
    ) -> DescribeServicesOutput {
        let mut svc = Service::builder()
            .service_name("web")
            .desired_count(2)
            .running_count(running)
            .deployments(
                Deployment::builder()
                    .id("ecs-svc/1")
                    .status("PRIMARY")
                    .rollout_state(state)
                    .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
                    .desired_count(2)
                    .running_count(running)
                    .failed_tasks(if running == 0 { 3 } else { 0 })
                    .build(),
            );
        for (id, msg) in events {
            svc = svc.events(ServiceEvent::builder().id(*id).message(*msg).build());
        }
        DescribeServicesOutput::builder()
            .services(svc.build())
            .build()
    }

    fn watch(ecs: &Client, timeout_ms: u64) -> Watch<'_> {
        Watch {
            ecs,
            cluster: "web".into(),
            service: "web".into(),
            deployment_id: Some("ecs-svc/1".into()),
            timeout: Duration::from_millis(timeout_ms),
            poll: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn a_completed_rollout_is_followed_to_the_end() {
        let seq = mock!(Client::describe_services)
            .sequence()
            .output(|| {
                service(
                    DeploymentRolloutState::InProgress,
                    0,
                    &[("e1", "started 2 tasks")],
                )
            })
            .output(|| {
                service(
                    DeploymentRolloutState::InProgress,
                    1,
                    &[("e2", "registered 1 target"), ("e1", "started 2 tasks")],
                )
            })
            .output(|| {
                service(
                    DeploymentRolloutState::Completed,
                    2,
                    &[
                        ("e3", "reached a steady state"),
                        ("e2", "registered 1 target"),
                        ("e1", "started 2 tasks"),
                    ],
                )
            })
            .build();
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&seq]);
        let mut seen = Vec::new();
        let v = watch(&ecs, 5_000)
            .run(&mut |p| seen.push(p.clone()))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verdict::Completed {
                running: 2,
                desired: 2
            }
        );
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].new_events, ["started 2 tasks"]);
        assert_eq!(seen[1].new_events, ["registered 1 target"]);
        assert_eq!(seen[2].new_events, ["reached a steady state"]);
        assert_eq!(seq.num_calls(), 3);
    }

    #[tokio::test]
    async fn a_circuit_breaker_rollback_reports_why_tasks_stopped() {
        let describe = mock!(Client::describe_services)
            .sequence()
            .output(|| service(DeploymentRolloutState::InProgress, 0, &[]))
            .output(|| service(DeploymentRolloutState::Failed, 0, &[]))
            .build();
        let list = mock!(Client::list_tasks).then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:us-east-1:1:task/web/abc123")
                .build()
        });
        let tasks = mock!(Client::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(
                    Task::builder()
                        .task_arn("arn:aws:ecs:us-east-1:1:task/web/abc123")
                        .started_by("ecs-svc/1")
                        .stopped_reason("Essential container in task exited")
                        .containers(Container::builder().name("app").exit_code(1).build())
                        .build(),
                )
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list, &tasks]);
        let v = watch(&ecs, 5_000).run(&mut |_| {}).await.unwrap();
        match v {
            Verdict::RolledBack {
                reason,
                stopped_tasks,
            } => {
                assert!(reason.contains("circuit breaker"), "{reason}");
                assert_eq!(
                    stopped_tasks,
                    ["task abc123: Essential container in task exited; app exited with 1"]
                );
            }
            other => panic!("expected a rollback, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_rollout_that_never_settles_times_out() {
        let describe = mock!(Client::describe_services)
            .then_output(|| service(DeploymentRolloutState::InProgress, 1, &[]));
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
        let t = Instant::now();
        let v = watch(&ecs, 60).run(&mut |_| {}).await.unwrap();
        assert!(
            matches!(v, Verdict::TimedOut { ref last } if last.running == 1 && last.rollout_state == "IN_PROGRESS"),
            "{v:?}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "bounded by the timeout"
        );
        assert!(describe.num_calls() >= 2);
    }
}
