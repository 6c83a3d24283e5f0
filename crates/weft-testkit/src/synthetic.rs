//! Synthetic workspaces: N repositories × M services with compose files,
//! Kubernetes manifests, `.env` references and a few conflicts, for
//! benchmarks. Deterministic for a given seed.

use std::fmt::Write as _;
use std::path::Path;

/// The shape of a generated workspace.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticSpec {
    pub repositories: usize,
    pub services_per_repository: usize,
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            repositories: 10,
            services_per_repository: 10,
            seed: 1,
        }
    }
}

/// A small, fast, deterministic generator (xorshift64*).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Writes the workspace under `root`. Each service has about three edges:
/// a `depends_on` inside its repository (required), a URL naming a service
/// of an earlier repository (soft), and, for Kubernetes services, a
/// ConfigMap reference (required). Edges point to earlier services only, so
/// the graph is acyclic; every 50th repository publishes a port another
/// repository also publishes.
pub fn generate(root: &Path, spec: SyntheticSpec) -> std::io::Result<()> {
    let mut random = Random(spec.seed.max(1));
    let mut workspace = String::from("name: synthetic\nrepositories:\n");
    for r in 0..spec.repositories {
        let _ = writeln!(workspace, "  repo{r:04}: {{path: repo{r:04}}}");
    }
    fs_err::create_dir_all(root)?;
    fs_err::write(root.join("weft.yaml"), workspace)?;
    for r in 0..spec.repositories {
        let directory = root.join(format!("repo{r:04}"));
        fs_err::create_dir_all(directory.join("k8s"))?;
        let mut compose = String::from("services:\n");
        let mut manifests = String::new();
        let mut env = String::from("TZ=UTC\n");
        for s in 0..spec.services_per_repository {
            let name = format!("r{r:04}s{s:02}");
            let _ = writeln!(compose, "  {name}:\n    image: example/{name}:1.0");
            if s > 0 {
                let _ = writeln!(
                    compose,
                    "    depends_on:\n      - r{r:04}s{:02}",
                    random.below(s)
                );
            }
            let port = if r % 50 == 49 && s == 0 {
                20_000
            } else {
                20_000 + (r * spec.services_per_repository + s) as u32 + 1
            };
            let _ = writeln!(compose, "    ports:\n      - \"{port}:8080\"");
            let _ = writeln!(compose, "    environment:\n      LOG_LEVEL: info");
            if r > 0 {
                let other = random.below(r);
                let other_service = random.below(spec.services_per_repository);
                let _ = writeln!(
                    compose,
                    "      UPSTREAM_URL: http://r{other:04}s{other_service:02}:8080/api"
                );
            }
            if s % 3 == 0 {
                let _ = write!(
                    manifests,
                    "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: app\n          image: example/{name}:1.0\n          envFrom:\n            - configMapRef: {{name: {name}-config}}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector: {{app: {name}}}\n  ports:\n    - port: 8080\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\ndata:\n  MODE: production\n"
                );
            }
        }
        if r > 0 {
            let _ = writeln!(env, "CACHE_ADDR=r{:04}s00:6379", random.below(r));
        }
        fs_err::write(directory.join("compose.yaml"), compose)?;
        fs_err::write(directory.join("k8s").join("app.yaml"), manifests)?;
        fs_err::write(directory.join(".env"), env)?;
    }
    Ok(())
}
