//! A PostgreSQL database of its own for one test, made on the server at
//! `COPYDESK_TEST_POSTGRES` (default: the project machines' server at
//! 127.0.0.1:5432) and dropped when the test ends.
//!
//! Without a server the test says so and passes as skipped, unless
//! `COPYDESK_REQUIRE_POSTGRES` is set (as `.ci/run` sets it): then it fails.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The maintenance database on the test server.
pub fn admin_url() -> String {
    std::env::var("COPYDESK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database made for one test.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl TestDatabase {
    /// Makes a new, empty database; `None` (the test is skipped) when no
    /// server answers and none is required.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        let admin = admin_url();
        let client = match connect(&admin).await {
            Ok(client) => client,
            Err(err) => {
                if std::env::var_os("COPYDESK_REQUIRE_POSTGRES").is_some() {
                    panic!(
                        "no PostgreSQL answers at {admin} ({err}), and COPYDESK_REQUIRE_POSTGRES is set"
                    );
                }
                eprintln!(
                    "skipping {test}: no PostgreSQL answers at {admin} ({err}); set COPYDESK_TEST_POSTGRES"
                );
                return None;
            }
        };
        let name = format!(
            "copydesk_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // One statement a call: neither runs in a transaction block.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&sql)
                .await
                .expect("create a test database");
        }
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Runs SQL on this database (to look at what the store wrote).
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url)
            .await
            .expect("connect to the test database")
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime's reach: a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = connect(&admin_url()).await.ok()?;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
