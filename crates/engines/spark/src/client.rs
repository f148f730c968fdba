//! A small Spark Connect client: one session, plans in, Arrow batches out.
//!
//! Generated from the Spark 4.0.0 protocol files (`proto/`) rather than taken from the
//! `apache-spark-connect` crate: that crate speaks the Spark 4.2 protocol and brings its own
//! Arrow (58), while the local server sweep tests against is Spark 4.0 (the newest line
//! with a Delta release) and the rest of sweep uses Arrow 59. The engine needs little of
//! the protocol: SQL and read relations, temporary views, writes and the
//! server's version.

use std::collections::HashMap;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use tonic::transport::{Channel, Endpoint};

use crate::SparkError;
use crate::proto;
use crate::proto::spark_connect_service_client::SparkConnectServiceClient;

const CLIENT_TYPE: &str = concat!("sweep/", env!("CARGO_PKG_VERSION"));
/// Spark answers with whole Arrow batches; the default 4 MiB limit is too small for them.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Where the Spark Connect server is: `sc://host:port` (port 15002 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub host: String,
    pub port: u16,
    pub user_id: String,
}

impl Remote {
    /// Parses `sc://host[:port][/;key=value;...]`; the `user_id` parameter is honoured,
    /// others (tokens, TLS) are refused rather than silently ignored.
    pub fn parse(url: &str) -> Result<Remote, SparkError> {
        let bad = |why: &str| SparkError::BadRemote { remote: url.to_string(), why: why.to_string() };
        let rest = url.strip_prefix("sc://").ok_or_else(|| bad("it must start with sc://, as in sc://localhost:15002"))?;
        let (authority, params) = match rest.split_once('/') {
            Some((a, p)) => (a, p.trim_start_matches(';')),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
                (h, p.parse::<u16>().map_err(|_| bad("the port is not a number between 1 and 65535"))?)
            }
            _ => (authority, 15002),
        };
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        let mut user_id = std::env::var("USER").unwrap_or_else(|_| "sweep".to_string());
        for param in params.split(';').filter(|p| !p.is_empty()) {
            match param.split_once('=') {
                Some(("user_id", v)) => user_id = v.to_string(),
                _ => return Err(bad(&format!("the parameter {param:?} is not supported (only user_id is)"))),
            }
        }
        Ok(Remote { host: host.to_string(), port, user_id })
    }
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sc://{}:{}", self.host, self.port)
    }
}

/// One Spark Connect session.
pub struct SparkClient {
    service: SparkConnectServiceClient<Channel>,
    remote: Remote,
    session_id: String,
    server_session_id: Option<String>,
}

impl SparkClient {
    /// Connects and opens a session; fails fast with a helpful message when nothing listens.
    pub async fn connect(remote: &Remote) -> Result<SparkClient, SparkError> {
        let endpoint = Endpoint::from_shared(format!("http://{}:{}", remote.host, remote.port))
            .map_err(|e| SparkError::BadRemote { remote: remote.to_string(), why: e.to_string() })?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        let channel = endpoint.connect().await.map_err(|e| SparkError::Unreachable { remote: remote.to_string(), why: error_chain(&e) })?;
        let service = SparkConnectServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(SparkClient { service, remote: remote.clone(), session_id: uuid::Uuid::new_v4().to_string(), server_session_id: None })
    }

    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    fn user_context(&self) -> Option<proto::UserContext> {
        Some(proto::UserContext { user_id: self.remote.user_id.clone(), user_name: self.remote.user_id.clone(), extensions: vec![] })
    }

    /// The server's Spark version, e.g. `4.0.0`.
    pub async fn spark_version(&mut self) -> Result<String, SparkError> {
        let request = proto::AnalyzePlanRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some(CLIENT_TYPE.to_string()),
            analyze: Some(proto::analyze_plan_request::Analyze::SparkVersion(proto::analyze_plan_request::SparkVersion {})),
            ..Default::default()
        };
        let response = self.service.analyze_plan(request).await.map_err(|s| self.status_error(s, "asking for the Spark version"))?;
        match response.into_inner().result {
            Some(proto::analyze_plan_response::Result::SparkVersion(v)) => Ok(v.version),
            other => Err(SparkError::Protocol(format!("expected the Spark version, got {other:?}"))),
        }
    }

    /// Runs a query and collects its rows.
    pub async fn collect(&mut self, relation: proto::Relation, what: &str) -> Result<Vec<RecordBatch>, SparkError> {
        self.execute(proto::plan::OpType::Root(relation), what).await
    }

    /// Runs a SQL query and collects its rows.
    pub async fn sql(&mut self, query: &str, what: &str) -> Result<Vec<RecordBatch>, SparkError> {
        self.collect(sql(query), what).await
    }

    /// Runs a command (a write, a view, a SQL statement).
    pub async fn command(&mut self, command: proto::command::CommandType, what: &str) -> Result<(), SparkError> {
        let command = proto::Command { command_type: Some(command) };
        self.execute(proto::plan::OpType::Command(command), what).await.map(|_| ())
    }

    /// Registers `relation` as the session's temporary view `name`.
    pub async fn create_view(&mut self, name: &str, relation: proto::Relation) -> Result<(), SparkError> {
        let command = proto::command::CommandType::CreateDataframeView(proto::CreateDataFrameViewCommand {
            input: Some(relation),
            name: name.to_string(),
            is_global: false,
            replace: true,
        });
        self.command(command, &format!("creating the view {name}")).await
    }

    /// Writes `relation` as a table of `format` at `path`.
    pub async fn write(
        &mut self,
        relation: proto::Relation,
        format: &str,
        path: &str,
        partition_by: &[&str],
        mode: proto::write_operation::SaveMode,
        options: HashMap<String, String>,
    ) -> Result<(), SparkError> {
        let command = proto::command::CommandType::WriteOperation(proto::WriteOperation {
            input: Some(relation),
            source: Some(format.to_string()),
            save_type: Some(proto::write_operation::SaveType::Path(path.to_string())),
            mode: mode as i32,
            partitioning_columns: partition_by.iter().map(|c| c.to_string()).collect(),
            options,
            ..Default::default()
        });
        self.command(command, &format!("writing {path}")).await
    }

    async fn execute(&mut self, op: proto::plan::OpType, what: &str) -> Result<Vec<RecordBatch>, SparkError> {
        self.execute_with_results(op, what).await.map(|(batches, _)| batches)
    }

    /// Runs a command and returns the results it sends besides rows (a checkpoint's
    /// relation, a streaming query's id, ...).
    pub async fn command_results(
        &mut self,
        command: proto::command::CommandType,
        what: &str,
    ) -> Result<Vec<proto::execute_plan_response::ResponseType>, SparkError> {
        let command = proto::Command { command_type: Some(command) };
        self.execute_with_results(proto::plan::OpType::Command(command), what).await.map(|(_, results)| results)
    }

    /// Materialises `relation` on the server (a local checkpoint) and registers the result as
    /// the view `name`; returns the id to release it with. Unlike `CACHE TABLE`, whose cached
    /// data Spark reuses only for plans it finds equal (it did not for the parse, so every
    /// later query parsed the input again), the view reads the stored rows, always.
    pub async fn checkpoint(&mut self, name: &str, relation: proto::Relation, what: &str) -> Result<String, SparkError> {
        let command = proto::command::CommandType::CheckpointCommand(proto::CheckpointCommand {
            relation: Some(relation),
            local: true,
            eager: true,
            storage_level: None,
        });
        let id = self
            .command_results(command, what)
            .await?
            .into_iter()
            .find_map(|r| match r {
                proto::execute_plan_response::ResponseType::CheckpointCommandResult(c) => c.relation.map(|r| r.relation_id),
                _ => None,
            })
            .ok_or_else(|| SparkError::Protocol(format!("{what}: the server returned no checkpointed relation")))?;
        self.create_view(name, cached(&id)).await?;
        Ok(id)
    }

    /// Frees the rows of a checkpoint (best effort: they go with the session anyway).
    pub async fn release_checkpoint(&mut self, id: &str) {
        let command = proto::command::CommandType::RemoveCachedRemoteRelationCommand(proto::RemoveCachedRemoteRelationCommand {
            relation: Some(proto::CachedRemoteRelation { relation_id: id.to_string() }),
        });
        let _ = self.command(command, "releasing a checkpoint").await;
    }

    async fn execute_with_results(
        &mut self,
        op: proto::plan::OpType,
        what: &str,
    ) -> Result<(Vec<RecordBatch>, Vec<proto::execute_plan_response::ResponseType>), SparkError> {
        let request = proto::ExecutePlanRequest {
            session_id: self.session_id.clone(),
            client_observed_server_side_session_id: self.server_session_id.clone(),
            user_context: self.user_context(),
            plan: Some(proto::Plan { op_type: Some(op) }),
            client_type: Some(CLIENT_TYPE.to_string()),
            // Results are read in one pass; a broken stream fails the run (which is
            // idempotent) instead of being reattached.
            request_options: vec![proto::execute_plan_request::RequestOption {
                request_option: Some(proto::execute_plan_request::request_option::RequestOption::ReattachOptions(proto::ReattachOptions {
                    reattachable: false,
                })),
            }],
            ..Default::default()
        };
        let mut stream = self.service.execute_plan(request).await.map_err(|s| self.status_error(s, what))?.into_inner();
        let mut batches = Vec::new();
        let mut results = Vec::new();
        loop {
            let message = match stream.message().await {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(status) => return Err(self.status_error(status, what)),
            };
            if !message.server_side_session_id.is_empty() {
                self.server_session_id = Some(message.server_side_session_id.clone());
            }
            match message.response_type {
                Some(proto::execute_plan_response::ResponseType::ArrowBatch(batch)) => {
                    let reader = StreamReader::try_new(std::io::Cursor::new(batch.data), None)
                        .map_err(|e| SparkError::Protocol(format!("reading Arrow data from Spark: {e}")))?;
                    for b in reader {
                        batches.push(b.map_err(|e| SparkError::Protocol(format!("reading Arrow data from Spark: {e}")))?);
                    }
                }
                Some(other) => results.push(other),
                None => {}
            }
        }
        Ok((batches, results))
    }

    fn status_error(&self, status: tonic::Status, what: &str) -> SparkError {
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown if status.message().contains("transport") => {
                SparkError::Unreachable { remote: self.remote.to_string(), why: status.message().to_string() }
            }
            _ => SparkError::Server { what: what.to_string(), message: first_lines(status.message(), 12) },
        }
    }

    /// Ends the session on the server (its views and cached data go with it).
    pub async fn release(mut self) {
        let request = proto::ReleaseSessionRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some(CLIENT_TYPE.to_string()),
            ..Default::default()
        };
        // Best effort: an unreleased session expires on the server by itself.
        let _ = self.service.release_session(request).await;
    }
}

/// A SQL query as a relation.
pub fn sql(query: &str) -> proto::Relation {
    relation(proto::relation::RelType::Sql(proto::Sql { query: query.to_string(), ..Default::default() }))
}

/// A data source read (`format`, `paths`, reader options) as a relation.
pub fn read(format: &str, paths: Vec<String>, options: HashMap<String, String>) -> proto::Relation {
    relation(proto::relation::RelType::Read(proto::Read {
        read_type: Some(proto::read::ReadType::DataSource(proto::read::DataSource {
            format: Some(format.to_string()),
            paths,
            options,
            ..Default::default()
        })),
        is_streaming: false,
    }))
}

/// The rows of a checkpoint, by id.
pub fn cached(id: &str) -> proto::Relation {
    relation(proto::relation::RelType::CachedRemoteRelation(proto::CachedRemoteRelation { relation_id: id.to_string() }))
}

fn relation(rel_type: proto::relation::RelType) -> proto::Relation {
    proto::Relation { common: None, rel_type: Some(rel_type) }
}

fn first_lines(message: &str, n: usize) -> String {
    message.lines().take(n).collect::<Vec<_>>().join("\n")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls() {
        let r = Remote::parse("sc://spark-host:15003/;user_id=alice").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.user_id.as_str()), ("spark-host", 15003, "alice"));
        assert_eq!(Remote::parse("sc://localhost").unwrap().port, 15002);
        let err = Remote::parse("http://localhost:15002").unwrap_err().to_string();
        assert!(err.contains("sc://"), "{err}");
        let err = Remote::parse("sc://h:1/;token=abc").unwrap_err().to_string();
        assert!(err.contains("token"), "{err}");
        assert!(Remote::parse("sc://h:notaport").is_err());
    }
}
