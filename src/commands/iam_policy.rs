use crate::aws::lock;
use crate::cli::{Global, IamPolicyArgs};
use crate::engine::policy::{self, Extra};
use crate::error::Error;
use crate::resources::registry;

/// A managed policy's size limit (characters, whitespace not counted).
const MANAGED_POLICY_MAX: usize = 6144;

pub fn run(a: &IamPolicyArgs, g: &Global) -> Result<i32, Error> {
    let model = super::load_valid(&a.file, g.region.as_deref())?;
    let kinds = registry();
    let nodes = crate::engine::lower(&kinds, &model);
    let name = lock::parameter(&model.name);
    let lock: Extra = (
        "StackLock".to_string(),
        [
            "ssm:GetParameter",
            "ssm:PutParameter",
            "ssm:DeleteParameter",
        ]
        .map(String::from)
        .to_vec(),
        model
            .regions
            .iter()
            .map(|r| format!("arn:aws:ssm:{r}:*:parameter{name}"))
            .collect(),
    );
    let doc = policy::iam_policy(&kinds, &nodes, &[lock]);
    let text = serde_json::to_string_pretty(&doc).expect("a policy serializes");
    println!("{text}");
    let size = serde_json::to_string(&doc)
        .expect("a policy serializes")
        .chars()
        .filter(|c| !c.is_whitespace())
        .count();
    let mut note = format!(
        "{} actions for stack \"{}\" in {} (plan, deploy and destroy), {size} characters.\n",
        policy::actions(&doc).len(),
        model.name,
        model.regions.join(" and "),
    );
    if size > MANAGED_POLICY_MAX {
        note.push_str(&format!(
            "That is more than a managed policy holds ({MANAGED_POLICY_MAX}): attach it to \
             the role as an inline policy (up to 10240 per role).\n"
        ));
    }
    super::eprint(&note);
    Ok(0)
}
