//! What one resource kind lowers from: the stack-wide model, one region (its network as in that
//! region) and, for a per-service kind, one service, each with its names.

use super::model::{Model, NetworkModel, ServiceModel, SloModel, SubnetModel};
use super::names::{Names, ServiceNames};

#[derive(Clone, Debug)]
pub struct View<'a> {
    /// The stack-wide model as loaded (`region` is the primary's).
    pub stack: &'a Model,
    /// The region lowered for: one of the stack's regions (the primary for global kinds).
    pub region: &'a str,
    /// The network as it is in `region`: created subnets' availability zones moved there with
    /// the same letter (`us-east-1a` -> `us-west-2a`); the same as the model's in the primary.
    pub network: NetworkModel,
    /// The service of a per-service view, and its name.
    service: Option<(&'a str, &'a ServiceModel)>,
}

impl<'a> View<'a> {
    /// The view of `stack` for `region` and, when given, the service named `service` (one of
    /// `Model::services`).
    pub fn new(stack: &'a Model, region: &'a str, service: Option<&str>) -> View<'a> {
        let mut network = stack.network.clone();
        if let NetworkModel::Create {
            subnets,
            private_subnets,
            ..
        } = &mut network
        {
            for s in subnets.iter_mut().chain(private_subnets) {
                if let Some(suffix) = s.az.strip_prefix(stack.region.as_str()) {
                    s.az = format!("{region}{suffix}");
                }
            }
        }
        let service = service.map(|name| {
            stack
                .services()
                .into_iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} is not a service of the stack"))
        });
        View {
            stack,
            region,
            network,
            service,
        }
    }

    /// The names of the stack's resources in this region.
    pub fn names(&self) -> Names {
        Names::new(&self.stack.name, self.region)
    }

    /// The private subnets of a created network, when a service runs in them (one without
    /// `assign_public_ip`): a stack whose every service has a public IP has no private tier,
    /// nor NAT gateways.
    pub fn private_subnets(&self) -> &[SubnetModel] {
        match &self.network {
            NetworkModel::Create {
                private_subnets, ..
            } if self
                .stack
                .services()
                .iter()
                .any(|(_, s)| !s.assign_public_ip) =>
            {
                private_subnets
            }
            _ => &[],
        }
    }

    /// Whether this is the view of the stack's primary region.
    pub fn is_primary(&self) -> bool {
        self.stack.is_primary(self.region)
    }

    /// The service of a per-service view (`Kind::service_desired`).
    ///
    /// # Panics
    /// On a stack-wide view: only per-service lowering has a service.
    pub fn service(&self) -> &'a ServiceModel {
        self.per_service().1
    }

    /// The SLO of a per-service view's service: its own `slo:`, or the stack's.
    ///
    /// # Panics
    /// On a stack-wide view.
    pub fn slo(&self) -> Option<&'a SloModel> {
        self.service().slo.as_ref().or(self.stack.slo.as_ref())
    }

    /// The name of the service of a per-service view (the stack's, in the one-service form).
    ///
    /// # Panics
    /// On a stack-wide view.
    pub fn service_name(&self) -> &'a str {
        self.per_service().0
    }

    fn per_service(&self) -> (&'a str, &'a ServiceModel) {
        self.service
            .expect("a per-service view (Kind::service_desired) has a service")
    }

    /// Whether the view's service is behind the load balancer (every service but an internal
    /// one): it has a target group, and the alarms and SLOs counted at the load balancer.
    ///
    /// # Panics
    /// On a stack-wide view.
    pub fn behind_load_balancer(&self) -> bool {
        !self.service().internal
    }

    /// The logical id of one of this service's nodes: `base` in the one-service form (`tg`,
    /// `service`), `<base>.<service>` with named services (`tg.api`, `service.api`).
    ///
    /// # Panics
    /// On a stack-wide view.
    pub fn id(&self, base: &str) -> String {
        super::names::service_id(base, self.stack.named_services.then(|| self.service_name()))
    }

    /// The physical names of this service's resources in this region.
    ///
    /// # Panics
    /// On a stack-wide view.
    pub fn service_names(&self) -> ServiceNames {
        ServiceNames {
            stack: self.names(),
            service: self
                .stack
                .named_services
                .then(|| self.service_name().to_string()),
        }
    }
}
