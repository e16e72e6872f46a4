//! `/metrics` in Prometheus text format: requests by method, route and status, a latency
//! histogram, and gauges read from the database when scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiResult;
use super::AppState;

/// Upper bounds, in seconds, of the latency histogram's buckets.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters of one route.
#[derive(Debug, Default)]
struct Route {
    /// Requests by (method, status).
    requests: BTreeMap<(String, u16), u64>,
    latency: Series,
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// By route template. One lock per request, and no allocation once a route's series exist:
    /// this runs on every request.
    routes: Mutex<BTreeMap<String, Route>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().expect("metrics lock");
        let r = match routes.get_mut(route) {
            Some(r) => r,
            None => routes.entry(route.to_string()).or_default(),
        };
        match r
            .requests
            .iter_mut()
            .find(|((m, s), _)| m == method && *s == status)
        {
            Some((_, n)) => *n += 1,
            None => {
                r.requests.insert((method.to_string(), status), 1);
            }
        }
        let s = &mut r.latency;
        s.count += 1;
        s.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP nubes_http_requests_total HTTP requests by method, route and status."
        );
        let _ = writeln!(out, "# TYPE nubes_http_requests_total counter");
        let routes = self.routes.lock().expect("metrics lock");
        for (route, r) in routes.iter() {
            for ((method, status), n) in &r.requests {
                let _ = writeln!(out, "nubes_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP nubes_http_request_duration_seconds Time to answer a request."
        );
        let _ = writeln!(out, "# TYPE nubes_http_request_duration_seconds histogram");
        for (route, s) in routes.iter().map(|(route, r)| (route, &r.latency)) {
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(out, "nubes_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "nubes_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "nubes_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "nubes_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                s.count
            );
        }
    }
}

/// Times every request. Routes are the matched templates, so ids do not explode the label set.
pub async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.observe(
        method.as_str(),
        route.as_ref().map_or("(unmatched)", |r| r.as_str()),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Prometheus's text format, for platform admins only (a scraper uses an admin's API token as
/// its bearer token): the metrics say how many users and instances the platform has and how
/// busy each route is, which no anonymous client should learn.
pub async fn scrape(
    State(state): State<AppState>,
    p: crate::tenancy::Principal,
) -> ApiResult<Response> {
    state.admin.check(&p).await?;
    let mut out = String::new();
    state.metrics.render(&mut out);
    let (users, instances) = state.accounts.db().counts().await?;
    let _ = writeln!(
        out,
        "# HELP nubes_users Registered users.\n# TYPE nubes_users gauge\nnubes_users {users}"
    );
    let _ = writeln!(out, "# HELP nubes_instances Instances the server tracks.\n# TYPE nubes_instances gauge\nnubes_instances {instances}");
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
