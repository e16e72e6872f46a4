use nubes::prelude::*;
use nubes::Bucket;

use crate::args::BucketCmd;
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for Bucket {
    const HEADERS: &'static [&'static str] = &["NAME", "CREATED"];

    fn row(&self) -> Vec<String> {
        vec![self.name.clone(), output::time(self.created_at)]
    }
}

pub async fn run(cloud: &Cloud, cmd: BucketCmd, format: Format) -> Outcome {
    let storage = cloud.storage()?;
    match cmd {
        BucketCmd::Create { name } => output::one(format, &storage.create_bucket(&name).await?),
        BucketCmd::List => output::list(format, &storage.list_buckets().await?),
        BucketCmd::Delete { name } => {
            storage.delete_bucket(&name).await?;
            eprintln!("deleted bucket {name}");
        }
    }
    Ok(0)
}
