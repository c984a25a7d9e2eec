//! The bench process's own CPU time, read from `/proc/self/stat`, so a cell can say what each
//! request cost in CPU besides what it took in time. Daemon and client share the process, so
//! the daemon's cells carry its work and the floors do not: the difference is Rolodex's own.

use std::time::Duration;

/// Clock ticks per second of `/proc` times (USER_HZ: 100 on every mainstream Linux; reading
/// `sysconf` would take `unsafe`, which this crate forbids).
const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU of every thread of this process so far (threads gone included);
/// `None` where `/proc` is not Linux's.
pub fn process_cpu() -> Option<Duration> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name sits in parentheses and may
/// hold spaces or parentheses itself, so fields are counted after the last `)`.
fn parse_stat(line: &str) -> Option<Duration> {
    let after = &line[line.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // After the name: state is field 3 of proc(5), utime 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / TICKS_PER_SECOND,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_ticks_are_read_after_the_command_name() {
        let line = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 2310 0 0 0 150 25 0 0 20 0 \
                    6 0 12345 100000 500 18446744073709551615";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(1750)));
        assert_eq!(parse_stat("no parenthesis"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn this_process_has_spent_some_cpu() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0u64);
        }
        assert!(process_cpu().is_some_and(|t| t >= Duration::from_millis(10)));
    }
}
