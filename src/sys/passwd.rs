//! The passwd codec: a user's name from passwd text, read without NSS.

/// The name of `uid` in passwd text (`name:x:uid:gid:...`), read without
/// NSS so that it works in static binaries.
pub fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        let id: u32 = f.next()?.trim().parse().ok()?;
        (id == uid && !name.is_empty() && !name.starts_with('#')).then(|| name.to_string())
    })
}
