//! Who the calls are made as: STS GetCallerIdentity (allowed to every principal; no IAM policy
//! can deny it).

use super::{AwsError, Clients, Ctx};

/// The account and principal the credentials act as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The 12-digit account id.
    pub account: String,
    /// The caller's ARN: a user, an assumed role's session, the root.
    pub arn: String,
}

/// Who `c`'s credentials act as: one GetCallerIdentity call, the first time a process asks for
/// these credentials (an error is not kept: the next caller asks again).
pub async fn caller(c: &Clients) -> Result<Identity, AwsError> {
    c.identity.get_or_try_init(|| ask(c)).await.cloned()
}

async fn ask(c: &Clients) -> Result<Identity, AwsError> {
    let out = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .ctx(|| "get the caller identity".to_string())?;
    Ok(Identity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}
