//! The load generator behind `bench/locks.sh`: acquire+release throughput
//! and latency with N concurrent clients, and the wake latency from a
//! release to the next waiter's grant, against weft serve, etcd (its
//! lease+lock API, through the JSON gateway) or Redis (`SET NX PX` / `DEL`).
//!
//! ```text
//! weft-lockbench throughput weft  http://127.0.0.1:7700  CLIENTS SECONDS
//! weft-lockbench throughput etcd  http://127.0.0.1:2379  CLIENTS SECONDS
//! weft-lockbench throughput redis 127.0.0.1:6379         CLIENTS SECONDS
//! weft-lockbench wake       weft|etcd URL ROUNDS
//! ```
//! Each client takes and releases its own lock, so throughput measures the
//! request path rather than queueing; wake latency uses one contended lock.

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

type Result<T> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["throughput", target, address, clients, seconds] => {
            let clients = clients.parse().unwrap_or(1);
            let seconds = seconds.parse().unwrap_or(5.0);
            throughput(target, address, clients, seconds)
        }
        ["wake", target, address, rounds] => wake(target, address, rounds.parse().unwrap_or(100)),
        _ => Err("usage: weft-lockbench throughput TARGET ADDRESS CLIENTS SECONDS | wake TARGET ADDRESS ROUNDS".to_owned()),
    };
    if let Err(message) = outcome {
        eprintln_error(&message);
        std::process::exit(1);
    }
}

fn eprintln_error(message: &str) {
    let _ = writeln!(std::io::stderr(), "weft-lockbench: {message}");
}

/// One client's lock operations.
trait Locker {
    fn acquire(&mut self) -> Result<()>;
    fn release(&mut self) -> Result<()>;
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> Result<(u16, Value)> {
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((status, value))
}

struct Weft {
    agent: ureq::Agent,
    base: String,
    resource: String,
    lease: Option<String>,
}

impl Locker for Weft {
    fn acquire(&mut self) -> Result<()> {
        let (status, lease) = post(
            &self.agent,
            &format!("{}/api/v1/leases", self.base),
            &json!({"resource": self.resource, "ttl_ms": 60_000, "wait_ms": 60_000}),
        )?;
        if status != 201 {
            return Err(format!("acquire: HTTP {status}: {lease}"));
        }
        self.lease = lease["id"].as_str().map(str::to_owned);
        Ok(())
    }

    fn release(&mut self) -> Result<()> {
        let lease = self.lease.take().ok_or("nothing to release")?;
        let mut response = self
            .agent
            .delete(&format!("{}/api/v1/leases/{lease}", self.base))
            .call()
            .map_err(|e| e.to_string())?;
        let _ = response.body_mut().read_to_string();
        if response.status().as_u16() != 200 {
            return Err(format!("release: HTTP {}", response.status()));
        }
        Ok(())
    }
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// etcd's lock API: one lease per client, granted once and kept (TTL 10
/// min), then `lock`/`unlock` per operation: two calls, as weft's two.
struct Etcd {
    agent: ureq::Agent,
    base: String,
    name: String,
    lease: String,
    key: Option<String>,
}

impl Etcd {
    fn new(base: &str, name: &str) -> Result<Etcd> {
        let agent = agent();
        let (_, granted) = post(
            &agent,
            &format!("{base}/v3/lease/grant"),
            &json!({"TTL": 600}),
        )?;
        let lease = granted["ID"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| granted["ID"].as_i64().map(|n| n.to_string()))
            .ok_or_else(|| format!("lease grant: {granted}"))?;
        Ok(Etcd {
            agent,
            base: base.to_owned(),
            name: base64(name.as_bytes()),
            lease,
            key: None,
        })
    }
}

impl Locker for Etcd {
    fn acquire(&mut self) -> Result<()> {
        let (status, locked) = post(
            &self.agent,
            &format!("{}/v3/lock/lock", self.base),
            &json!({"name": self.name, "lease": self.lease}),
        )?;
        if status != 200 {
            return Err(format!("lock: HTTP {status}: {locked}"));
        }
        self.key = locked["key"].as_str().map(str::to_owned);
        Ok(())
    }

    fn release(&mut self) -> Result<()> {
        let key = self.key.take().ok_or("nothing to unlock")?;
        let (status, body) = post(
            &self.agent,
            &format!("{}/v3/lock/unlock", self.base),
            &json!({"key": key}),
        )?;
        if status != 200 {
            return Err(format!("unlock: HTTP {status}: {body}"));
        }
        Ok(())
    }
}

/// Redis: `SET key token NX PX 60000` to take, `DEL key` to give back.
struct Redis {
    stream: BufReader<TcpStream>,
    key: String,
}

impl Redis {
    fn command(&mut self, parts: &[&str]) -> Result<String> {
        let mut request = format!("*{}\r\n", parts.len());
        for part in parts {
            request.push_str(&format!("${}\r\n{part}\r\n", part.len()));
        }
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stream
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.starts_with('$') && line.trim() != "$-1" {
            let mut value = String::new();
            self.stream
                .read_line(&mut value)
                .map_err(|e| e.to_string())?;
        }
        Ok(line.trim().to_owned())
    }
}

impl Locker for Redis {
    fn acquire(&mut self) -> Result<()> {
        let key = self.key.clone();
        let reply = self.command(&["SET", &key, "1", "NX", "PX", "60000"])?;
        if reply == "+OK" {
            Ok(())
        } else {
            Err(format!("SET NX: {reply}"))
        }
    }

    fn release(&mut self) -> Result<()> {
        let key = self.key.clone();
        self.command(&["DEL", &key]).map(|_| ())
    }
}

fn locker(target: &str, address: &str, name: &str) -> Result<Box<dyn Locker + Send>> {
    Ok(match target {
        "weft" => Box::new(Weft {
            agent: agent(),
            base: address.to_owned(),
            resource: format!("lock:{name}"),
            lease: None,
        }),
        "etcd" => Box::new(Etcd::new(address, name)?),
        "redis" => Box::new(Redis {
            stream: BufReader::new(TcpStream::connect(address).map_err(|e| e.to_string())?),
            key: name.to_owned(),
        }),
        other => return Err(format!("unknown target `{other}`")),
    })
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn throughput(target: &str, address: &str, clients: usize, seconds: f64) -> Result<()> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let run = Duration::from_secs_f64(seconds);
    let mut handles = Vec::new();
    for client in 0..clients {
        // Named by the process too, so that runs side by side (against
        // two replicas, say) do not contend for each other's locks.
        let name = format!("bench-{}-{client}", std::process::id());
        let mut locker = locker(target, address, &name)?;
        let barrier = barrier.clone();
        handles.push(std::thread::spawn(move || -> Result<Vec<Duration>> {
            let mut latencies = Vec::new();
            barrier.wait();
            let start = Instant::now();
            while start.elapsed() < run {
                let began = Instant::now();
                locker.acquire()?;
                locker.release()?;
                latencies.push(began.elapsed());
            }
            Ok(latencies)
        }));
    }
    barrier.wait();
    let started = Instant::now();
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.join().map_err(|_| "a client panicked")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{target:<14} clients={clients:<3} ops={:<7} ops/s={:<9.0} p50={:.2}ms p99={:.2}ms",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    Ok(())
}

/// One holder, one waiter: the time from the holder sending its release to
/// the waiter's grant arriving.
fn wake(target: &str, address: &str, rounds: usize) -> Result<()> {
    let mut latencies = Vec::new();
    let mut holder = locker(target, address, "wake")?;
    for round in 0..rounds {
        holder.acquire()?;
        let (sender, receiver) = std::sync::mpsc::channel();
        let mut waiter = locker(target, address, "wake")?;
        // The waiter notes when its grant arrived, before its thread ends
        // and is joined.
        let handle = std::thread::spawn(move || -> Result<(Box<dyn Locker + Send>, Instant)> {
            sender.send(()).map_err(|e| e.to_string())?;
            waiter.acquire()?;
            Ok((waiter, Instant::now()))
        });
        receiver.recv().map_err(|e| e.to_string())?;
        // Let the waiter's request reach the server and queue.
        std::thread::sleep(Duration::from_millis(30));
        let released = Instant::now();
        holder.release()?;
        let (mut waiter, granted) = handle.join().map_err(|_| "the waiter panicked")??;
        latencies.push(
            granted
                .checked_duration_since(released)
                .ok_or("the waiter was granted before the holder released")?,
        );
        waiter.release()?;
        if round % 50 == 49 {
            let _ = writeln!(std::io::stderr(), "  {target} wake: {} rounds", round + 1);
        }
    }
    latencies.sort();
    println!(
        "{target:<14} wake rounds={rounds:<4} p50={:.2}ms p99={:.2}ms max={:.2}ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    Ok(())
}
