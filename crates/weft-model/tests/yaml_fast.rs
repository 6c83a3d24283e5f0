//! The YAML fast path against the full reader: wherever the fast path gives
//! an answer, it is the full reader's answer, spans included.

use weft_model::yaml::{Arena, Node, Value, parse_documents_fast, parse_documents_fully};

/// The property: the fast path either steps aside or agrees.
fn agrees(text: &str) -> bool {
    let (fast_arena, full_arena) = (Arena::new(), Arena::new());
    match parse_documents_fast(&fast_arena, text) {
        None => false,
        Some(fast) => {
            match parse_documents_fully(&full_arena, text) {
                Ok(full) => {
                    let difference = (fast.len() != full.len())
                        .then(|| format!("{} documents, not {}", fast.len(), full.len()))
                        .or_else(|| {
                            fast.iter()
                                .zip(&full)
                                .enumerate()
                                .find_map(|(i, (a, b))| difference(a, b, &format!("document {i}")))
                        });
                    assert!(
                        difference.is_none(),
                        "{}, on:\n{text}",
                        difference.unwrap_or_default()
                    );
                }
                Err(error) => {
                    panic!("the fast path accepted what the full reader refuses ({error}):\n{text}")
                }
            }
            true
        }
    }
}

/// Where two trees first differ (fast, then full), if they do.
fn difference(fast: &Node<'_>, full: &Node<'_>, path: &str) -> Option<String> {
    if fast.span != full.span || fast.tag != full.tag {
        return Some(format!(
            "{path}: span {:?} tag {:?}, not span {:?} tag {:?}",
            fast.span, fast.tag, full.span, full.tag
        ));
    }
    match (fast.value, full.value) {
        (Value::Scalar(a), Value::Scalar(b)) => {
            (a != b).then(|| format!("{path}: {a:?}, not {b:?}"))
        }
        (Value::Sequence(a), Value::Sequence(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, &format!("{path}/{i}"))),
        (Value::Mapping(a), Value::Mapping(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, ((k, v), (l, w)))| {
                difference(k, l, &format!("{path}/key {i}"))
                    .or_else(|| difference(v, w, &format!("{path}/{}", k.as_str().unwrap_or("?"))))
            }),
        _ => Some(format!("{path}: {:?}, not {:?}", fast.value, full.value)),
    }
}

#[test]
fn the_common_shapes_take_the_fast_path_and_agree() {
    let texts = [
        "",
        "# only a comment\n",
        "a: 1",
        "a: 1\n",
        "services:\n  web:\n    image: nginx:1.25   # pinned\n    ports: [\"8080:80\", '443:443']\n    environment:\n      - A=1\n      - B=\n",
        "a:\n- x\n-   # c\n  y\n-\nb: &anchor\n  k: v\nc: !override [1]\nd: !reset\ne: *anchor\nf: &s plain\ng:   # comment\nh: \"q\" # c\n",
        "x-base: &base\n  restart: always\n  env: {A: 1}\nservices:\n  a:\n    <<: *base\n    restart: never\n",
        "b: &b {k: 1, m: 2}\nc: &c {m: 3, n: 4}\nd:\n  k: 0\n  <<: [*b, *c]\n  \"<<\": quoted\ne:\n  '<<': {x: 1}\nf: {k: 9, <<: *c, \"<<\": q}\n",
        "lit: |\n  line1\n   line2\n\nfold: >-\n  a\n  b\n\n  c\nkeep: |+\n  k\n\n\nlast: end\n",
        "---\n---\na: 1\n---\n",
        "apiVersion: v1\nkind: Service\n---\napiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          args: [\"--port\", \"80\"]\n",
        "test: [\n    \"CMD\",\n    \"true\"\n  ]\nnext: 1\n",
        "emptyDir: {}   # trailing\nlist: []\n",
        "q: \"tab\\there \\u00e9 \\x41 \\\\ \\\"\"\nu: 'it''s'\nkey with spaces: v\n\"quoted key\": 1\n",
        "- - a\n  - b\n- k: v\n  k2: [x, {y: z}]\n- |\n  block in a sequence\n",
        "naïve: café # é\nnext: ü\n",
        "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
    ];
    for text in texts {
        assert!(agrees(text), "left to the full reader:\n{text}");
    }
}

#[test]
fn what_the_full_reader_refuses_is_left_to_it() {
    for text in [
        "a: b: c\n",
        "a: [1, 2\nb: 3\n",
        "a:\n  b: 1\n c: 2\n",
        "- a\nb: 1\n",
        "a: 'open\n",
        "a: *nowhere\n",
        "a: &x [*x]\n",
        "key: value\n  more: 1\n",
        "a: \"bad \\q escape\"\n",
        "a: 1\n...\n",
        "%YAML 1.2\n---\na: 1\n",
        "a:\tb\n",
        "a: 1\r\nb: 2\r\n",
        "\u{feff}a: 1\n",
    ] {
        assert!(!agrees(text), "the fast path took:\n{text}");
    }
}

/// A small deterministic generator (xorshift), so the test needs no seed
/// file and fails the same way every time.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PLAIN: &[&str] = &[
    "a",
    "web",
    "8080:80",
    "http://x:1/y",
    "-1",
    "a b",
    "x#y",
    "~",
    "null",
    "true",
    "é",
    "nginx:1.25",
    "a,b",
    "[not]",
    "k=v",
    "-x",
    "?y",
    ":z",
];
const QUOTED: &[&str] = &[
    "'it''s'",
    "\"a\\nb\"",
    "\"é\"",
    "\"\\u00e9\"",
    "''",
    "\"\"",
    "'# not a comment'",
    "\"a: b\"",
];
const FLOW: &[&str] = &[
    "[a, b]",
    "{k: v}",
    "[]",
    "{}",
    "[a, [b, c], {d: e}]",
    "[\"x\", 'y',]",
    "{a: [1, 2], b: c}",
];
const COMMENT: &[&str] = &["", "", "", " # c", "   #x", " #"];

fn scalar(random: &mut Random) -> String {
    match random.below(10) {
        0..=3 => random.pick(PLAIN).to_string(),
        4..=5 => random.pick(QUOTED).to_string(),
        6..=7 => random.pick(FLOW).to_string(),
        8 => "*a".to_string(),
        _ => format!("&a {}", random.pick(PLAIN)),
    }
}

fn block(random: &mut Random, out: &mut String, indent: usize, depth: usize) {
    let pad = " ".repeat(indent);
    let entries = 1 + random.below(4);
    let sequence = random.below(3) == 0;
    for n in 0..entries {
        if random.below(6) == 0 {
            out.push_str(&format!("{pad}# note\n"));
        }
        if random.below(8) == 0 {
            out.push('\n');
        }
        if sequence {
            out.push_str(&format!("{pad}-"));
        } else {
            let key = match random.below(6) {
                0 => random.pick(QUOTED).to_string(),
                1 => "<<".to_string(),
                _ => format!("k{n}{}", random.pick(&["", "", " x", "-y", ".z"])),
            };
            out.push_str(&format!("{pad}{key}:"));
        }
        let nested = depth < 4 && random.below(3) == 0;
        match random.below(9) {
            _ if nested => {
                let properties = random.pick(&["", "", " &a", " !override"]);
                out.push_str(&format!("{properties}{}\n", random.pick(COMMENT)));
                let deeper = indent + 1 + random.below(3);
                if !sequence && random.below(4) == 0 {
                    block_sequence(random, out, indent, depth + 1);
                } else {
                    block(random, out, deeper, depth + 1);
                }
            }
            0 => {
                let header = random.pick(&["|", ">", "|-", ">+", "|+", ">-"]);
                out.push_str(&format!(" {header}{}\n", random.pick(COMMENT)));
                let inner = " ".repeat(indent + 2);
                for line in 0..1 + random.below(3) {
                    out.push_str(&format!(
                        "{inner}{}line {line}\n",
                        random.pick(&["", "", " "])
                    ));
                    if random.below(3) == 0 {
                        out.push('\n');
                    }
                }
            }
            1 => out.push_str(&format!("{}\n", random.pick(COMMENT))),
            _ => out.push_str(&format!(" {}{}\n", scalar(random), random.pick(COMMENT))),
        }
    }
}

fn block_sequence(random: &mut Random, out: &mut String, indent: usize, depth: usize) {
    let pad = " ".repeat(indent);
    for _ in 0..1 + random.below(3) {
        if depth < 4 && random.below(3) == 0 {
            out.push_str(&format!("{pad}- "));
            let mut inner = String::new();
            block(random, &mut inner, indent + 2, depth + 1);
            out.push_str(inner.trim_start());
        } else {
            out.push_str(&format!("{pad}- {}\n", scalar(random)));
        }
    }
}

fn document(random: &mut Random) -> String {
    let mut out = String::new();
    for d in 0..1 + random.below(2) {
        if d > 0 || random.below(3) == 0 {
            out.push_str(random.pick(&["---\n", "--- # doc\n"]));
        }
        block(random, &mut out, 0, 0);
    }
    if random.below(5) == 0 {
        out.pop();
    }
    out
}

/// Insert or delete a few characters: most edits make YAML that means
/// something else, or nothing.
fn mutate(random: &mut Random, text: &str) -> String {
    let mut text = text.to_string();
    for _ in 0..1 + random.below(3) {
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let at = boundaries[random.below(boundaries.len())];
        if random.below(2) == 0 {
            let insert = random.pick(&[
                " ", "\n", "-", ":", "#", "'", "\"", "[", "]", "{", "}", ",", "&a ", "*a", "|",
                ">", "  ", "é", "? ", "!", "\\", "---\n", "- ", ": ",
            ]);
            text.insert_str(at, insert);
        } else if let Some(&end) = boundaries.iter().find(|&&b| b > at) {
            text.replace_range(at..end, "");
        }
    }
    text
}

#[test]
fn random_documents_and_their_mutants_agree_wherever_the_fast_path_answers() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let (mut documents, mut fast) = (0, 0);
    let mut mutants_fast = 0;
    for _ in 0..3_000 {
        let text = document(&mut random);
        documents += 1;
        if agrees(&text) {
            fast += 1;
        }
        for _ in 0..4 {
            if agrees(&mutate(&mut random, &text)) {
                mutants_fast += 1;
            }
        }
    }
    // The property holds vacuously if the fast path steps aside on
    // everything: about half the generated documents are in its subset
    // (the rest mostly use properties and aliases it leaves alone).
    assert!(
        fast * 5 > documents * 2,
        "the fast path took only {fast} of {documents} documents"
    );
    assert!(mutants_fast > 0, "no mutant took the fast path");
}
