fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(isocheck::runtime::helper::HELPER_ARG) {
        std::process::exit(isocheck::runtime::helper::main());
    }
    let spec: isocheck::runtime::spec::SandboxSpec = serde_json::from_str(&args[1]).unwrap();
    let probe: isocheck::probe::Probe = serde_json::from_str(&args[2]).unwrap();
    let l = isocheck::runtime::spawn::Launcher::new(std::env::current_exe().unwrap()).unwrap();
    let t = std::time::Instant::now();
    let o = l.run("try", &spec, &probe);
    println!("{:?}", t.elapsed());
    println!(
        "{}",
        serde_json::to_string_pretty(&o.map_err(|e| e.to_string())).unwrap()
    );
}
