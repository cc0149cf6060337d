//! The real client against the real gateway inside turmoil: paging on both platforms, bulk
//! updates through lost responses and conflicts, creates with and without idempotency keys.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use herd_client::api::BulkItem;
use herd_client::clock::TokioClock;
use herd_client::events::CollectingObserver;
use herd_client::gate::Priority;
use herd_client::transport::HyperTransport;
use herd_client::{Client, ClientConfig, Credentials, Outcome, Worker};
use herd_gateway::config::{Fault, GatewayConfig, LimitRule, PlatformProfile};
use herd_gateway::ledger::WriteOp;
use herd_gateway::Gateway;
use herd_sim::shell::service::GatewayService;
use herd_sim::shell::turmoil_host::{serve_turmoil, TurmoilClock};
use serde_json::json;

type BoxError = Box<dyn std::error::Error>;

/// Runs `body` on one client host against a gateway built from `config`; returns the gateway.
fn simulate<F, Fut>(config: GatewayConfig, client_config: ClientConfig, body: F) -> Arc<Mutex<Gateway>>
where
    F: FnOnce(Worker) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + 'static,
{
    let epoch = UNIX_EPOCH + Duration::from_secs(config.epoch_unix_s);
    let platform = herd_sim::scenario::client_platform(config.platform);
    let gateway = Arc::new(Mutex::new(
        Gateway::new(config, herd_sim::streams::gateway_streams(3)).unwrap(),
    ));
    let mut sim = turmoil::Builder::new()
        .rng_seed(3)
        .epoch(epoch)
        .simulation_duration(Duration::from_secs(3_600))
        .build();
    let served = gateway.clone();
    sim.host("gateway", move || {
        let service = GatewayService::new(served.clone(), Arc::new(TurmoilClock));
        async move {
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:80").await?;
            serve_turmoil(listener, service).await?;
            Ok(())
        }
    });
    sim.client("app", async move {
        let config = ClientConfig {
            platform,
            ..client_config
        };
        let observer = Arc::new(CollectingObserver::default());
        let client = Client::new(
            config,
            Credentials::example(platform),
            Arc::new(HyperTransport::turmoil()),
            Arc::new(TokioClock::with_epoch(epoch)),
            observer,
        )?;
        body(client.worker(
            0,
            herd_sim::streams::rng(3, herd_sim::streams::Stream::Worker { global: 0 }),
        ))
        .await
    });
    sim.run().expect("simulation completes");
    gateway
}

#[test]
fn paging_walks_every_user_on_both_platforms() {
    for platform in [PlatformProfile::Genesys, PlatformProfile::Cxone] {
        let config = GatewayConfig {
            platform,
            layers: herd_gateway::config::Layers::OFF,
            data: herd_gateway::config::DataConfig {
                users: 230,
                ..Default::default()
            },
            ..GatewayConfig::default()
        };
        let seen = Arc::new(Mutex::new(0usize));
        let count = seen.clone();
        simulate(
            config,
            ClientConfig {
                page_size: 100,
                ..ClientConfig::default()
            },
            move |mut worker| async move {
                let users = worker
                    .list_all("list", Priority::Normal)
                    .await
                    .map_err(|result| format!("{result:?}"))?;
                *count.lock().unwrap() = users.len();
                Ok(())
            },
        );
        assert_eq!(*seen.lock().unwrap(), 230, "{platform:?}");
    }
}

#[test]
fn bulk_update_survives_lost_responses_with_one_outcome_per_item() {
    let config = GatewayConfig {
        limits: Some(vec![LimitRule {
            limit: 20,
            ..LimitRule::genesys_token_default()
        }]),
        faults: vec![Fault::LostResponse {
            families: Vec::new(),
            host: None,
            from_s: 0,
            until_s: None,
            rate: 0.3,
        }],
        ..GatewayConfig::default()
    };
    let results = Arc::new(Mutex::new(Vec::new()));
    let sink = results.clone();
    let gateway = simulate(config, ClientConfig::default(), move |mut worker| async move {
        let users = worker
            .list_all("list", Priority::High)
            .await
            .map_err(|result| format!("{result:?}"))?;
        let items: Vec<BulkItem> = users
            .iter()
            .map(|user| BulkItem {
                id: user["id"].as_str().unwrap().to_string(),
                version: user["version"].as_u64(),
                fields: json!({"department": "Support"}),
            })
            .collect();
        let outcomes = worker.bulk_update_users("bulk", items, Priority::Normal).await;
        *sink.lock().unwrap() = outcomes;
        Ok(())
    });
    let results = results.lock().unwrap();
    assert_eq!(results.len(), 100);
    let indexes: Vec<usize> = results.iter().map(|r| r.index).collect();
    assert_eq!(
        indexes,
        (0..100).collect::<Vec<_>>(),
        "one outcome per item, in order"
    );
    assert!(
        results.iter().all(|r| r.outcome == Outcome::Ok),
        "{:?}",
        results.iter().find(|r| r.outcome != Outcome::Ok)
    );
    let gateway = gateway.lock().unwrap();
    for result in results.iter() {
        let user = gateway.directory().get(&result.id).unwrap();
        assert_eq!(user.fields.get("department"), Some(&json!("Support")));
        // A lost response's write is found applied on re-read, never written twice.
        assert_eq!(
            gateway.ledger().applied(WriteOp::UpdateUser, &result.id),
            1,
            "{}",
            result.id
        );
    }
}

fn creates_under_lost_responses(idempotency_keys: bool) -> u64 {
    let config = GatewayConfig {
        layers: herd_gateway::config::Layers::OFF,
        faults: vec![Fault::LostResponse {
            families: Vec::new(),
            host: None,
            from_s: 0,
            until_s: None,
            rate: 0.4,
        }],
        ..GatewayConfig::default()
    };
    let client_config = ClientConfig {
        idempotency_keys,
        ..ClientConfig::default()
    };
    let gateway = simulate(config, client_config, |mut worker| async move {
        for n in 0..40 {
            let result = worker
                .create_evaluation(
                    &format!("create-{n}"),
                    &format!("conv-{n}"),
                    json!({"evaluationForm": {"id": "f"}}),
                    Priority::Normal,
                )
                .await;
            assert_eq!(result.outcome, Outcome::Ok);
        }
        Ok(())
    });
    let gateway = gateway.lock().unwrap();
    assert_eq!(
        gateway.ledger().distinct_keys(WriteOp::CreateEvaluation),
        40,
        "no create lost"
    );
    gateway.ledger().duplicate_creates()
}

#[test]
fn idempotency_keys_prevent_duplicate_creates() {
    assert_eq!(creates_under_lost_responses(true), 0);
    assert!(
        creates_under_lost_responses(false) > 0,
        "without keys, retried creates are duplicated"
    );
}

/// The gateway writes one IETF item per layer that applied; herd-client reads every item and
/// paces on the tightest, with its quota taken from the matching policy.
#[test]
fn the_client_reads_every_ietf_item_the_gateway_writes_and_takes_the_tightest() {
    use herd_gateway::config::{HeaderDialect, Layers};
    use herd_gateway::{Request, SimTime};
    let config = GatewayConfig {
        headers: HeaderDialect::Ietf,
        layers: Layers {
            client_rate_per_min: 100,
            ..Layers::default()
        },
        ..GatewayConfig::default()
    };
    let mut gateway = Gateway::new(config, herd_sim::streams::gateway_streams(1)).unwrap();
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "herd-app:herd-secret");
    let token = gateway.handle(
        SimTime::ZERO,
        Request::new("POST", "/oauth/token")
            .header("Authorization", &format!("Basic {basic}"))
            .body("grant_type=client_credentials"),
    );
    let token = token.body_json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let response = gateway.handle(
        SimTime::from_millis(10),
        Request::new("GET", "/api/v2/users").bearer(&token),
    );
    assert_eq!(response.status, 200);
    let info =
        herd_client::headers::parse_rate_limit(&response.headers, std::time::UNIX_EPOCH).expect("a reading");
    assert_eq!(
        (info.limit, info.remaining, info.reset_after.as_secs()),
        (Some(100), 99, 60)
    );
}
