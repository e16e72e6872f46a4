//! An EC2 instance's stats from CloudWatch: CPU from the last minutes EC2 reported (every 5 with
//! basic monitoring, every minute with detailed), memory from the CloudWatch agent where it runs
//! (EC2 itself cannot see inside), network and EBS bytes summed since launch (within CloudWatch's
//! retention). A figure CloudWatch does not have yet (a new instance, a stopped one) is 0.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatch::Client;
use aws_smithy_types::DateTime;
use nubes_core::compute::InstanceStats;
use nubes_core::Result;

use crate::error::map;

/// How far back the latest CPU and memory figures are looked for.
const RECENT: Duration = Duration::from_secs(15 * 60);

fn query(
    id: &str,
    instance: &str,
    namespace: &str,
    metric: &str,
    period: i32,
    stat: &str,
) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("InstanceId")
                .value(instance)
                .build(),
        )
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(period)
                .stat(stat)
                .build(),
        )
        .build()
}

/// What CloudWatch holds for `instance`, which has `vcpus` and `memory` (bytes) and was
/// launched at `launched`.
pub async fn stats(
    client: &Client,
    instance: &str,
    launched: Option<SystemTime>,
    vcpus: f64,
    memory: Option<u64>,
) -> Result<InstanceStats> {
    let now = SystemTime::now();
    let recent = now - RECENT;
    let since = launched.unwrap_or(recent).min(recent);
    // One period over the whole life: each sum is then one figure.
    let life = now
        .duration_since(since)
        .unwrap_or_default()
        .as_secs()
        .div_ceil(60)
        .max(1)
        * 60;
    let life = i32::try_from(life).unwrap_or(i32::MAX / 60 * 60);
    let queries = [
        query("cpu", instance, "AWS/EC2", "CPUUtilization", 60, "Average"),
        query("mem", instance, "CWAgent", "mem_used", 60, "Average"),
        query("rx", instance, "AWS/EC2", "NetworkIn", life, "Sum"),
        query("tx", instance, "AWS/EC2", "NetworkOut", life, "Sum"),
        query("rd", instance, "AWS/EC2", "EBSReadBytes", life, "Sum"),
        query("wr", instance, "AWS/EC2", "EBSWriteBytes", life, "Sum"),
    ];
    let out = client
        .get_metric_data()
        .set_metric_data_queries(Some(queries.to_vec()))
        .start_time(DateTime::from(since))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .scan_by(ScanBy::TimestampDescending)
        .send()
        .await
        .map_err(|e| map(e, &format!("stats of instance {instance}")))?;
    let latest = |id: &str| {
        out.metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .and_then(|r| r.values().first().copied())
    };
    let total = |id: &str| -> u64 {
        out.metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .map_or(0.0, |r| r.values().iter().sum::<f64>())
            .max(0.0) as u64
    };
    let mut s = InstanceStats::default();
    // CloudWatch's percent is of all the instance's vCPUs; the SDK's is of one core.
    s.cpu_percent = latest("cpu").unwrap_or(0.0).max(0.0) * vcpus;
    s.memory_bytes = latest("mem").map_or(0, |m| m.max(0.0) as u64);
    s.memory_limit_bytes = memory;
    s.network_rx_bytes = total("rx");
    s.network_tx_bytes = total("tx");
    s.block_read_bytes = total("rd");
    s.block_write_bytes = total("wr");
    Ok(s)
}
