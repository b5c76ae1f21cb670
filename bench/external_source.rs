//! What every Rust program that `zipc bench` runs as an external source
//! (bench/external.c) shares: its command line (`--quick`, `--json`,
//! `--cpus A,B`), pinning to a CPU and JSON strings. Included with `#[path]`
//! by rust/zipc/examples/bench.rs and bench/peers/src/main.rs.

/// The command line of an external source.
pub struct SourceArgs {
    pub quick: bool,
    pub json: bool,
    /// The CPUs to measure on: ours, then the peer process's.
    pub cpus: [usize; 2],
    /// `--cpus` was given: pin even with a one-CPU inherited affinity (as
    /// the child of `zipc bench`, itself pinned to A).
    pub given: bool,
}

impl SourceArgs {
    /// Parse `std::env::args()`; exit 2 with a usage line naming `program` on bad usage.
    pub fn parse(program: &str) -> SourceArgs {
        let usage = |why: &str| -> ! {
            eprintln!("usage: {program} [--quick] [--json] [--cpus A,B]   ({why})");
            std::process::exit(2);
        };
        let mut a = SourceArgs { quick: false, json: false, cpus: [0, 1], given: false };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => a.quick = true,
                "--json" => a.json = true,
                "--cpus" => match args.next().as_deref().and_then(parse_cpus) {
                    Some(c) => (a.cpus, a.given) = (c, true),
                    None => usage("--cpus wants two different CPU numbers A,B"),
                },
                _ => usage(&format!("unknown argument {arg}")),
            }
        }
        a
    }

    /// Pin this process to cpus[0] when that is possible and wanted.
    pub fn pin_self(&self) -> bool {
        let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
        (self.given || allowed >= 2) && pin(self.cpus[0])
    }
}

/// "A,B" -> [A, B], two different CPUs.
fn parse_cpus(s: &str) -> Option<[usize; 2]> {
    let (a, b) = s.split_once(',')?;
    let c = [a.trim().parse().ok()?, b.trim().parse().ok()?];
    (c[0] != c[1]).then_some(c)
}

/// Pin the calling thread (the process, before it starts others) to `cpu`.
pub fn pin(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// `s` as a JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
