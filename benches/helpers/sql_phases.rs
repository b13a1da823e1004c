//! Where a query's time goes in DataFusion over an mmarrow table: SQL to
//! logical plan, each analyzer and logical optimizer rule, physical
//! planning, each physical optimizer rule, execution.
//!
//! ```sh
//! cargo build --release --features bench-helpers,datafusion --example sql_phases
//! target/release/examples/sql_phases TABLE_PATH "SELECT count(*) FROM t WHERE id BETWEEN 5000000 AND 5010000" [RUNS]
//! ```
//!
//! The table is registered as `t`; the session is `mmarrow sql`'s (2
//! partitions here as on this machine). Every phase is timed over RUNS
//! statements (default 300) after 20 warm-up runs; prints the mean µs per
//! statement of each phase and each rule, largest first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::analyzer::{Analyzer, AnalyzerRule};
use datafusion::optimizer::optimizer::{ApplyOrder, Optimizer, OptimizerConfig, OptimizerRule};
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use mmarrow::datafusion::{register_vector_functions, MmarrowTable, MmarrowTableFactory};

/// Time per name, summed over every call.
type Clock = Arc<Mutex<HashMap<String, Duration>>>;

fn add(clock: &Clock, name: &str, d: Duration) {
    *clock.lock().unwrap().entry(name.to_string()).or_default() += d;
}

#[derive(Debug)]
struct TimedAnalyzer(Arc<dyn AnalyzerRule + Send + Sync>, Clock);

impl AnalyzerRule for TimedAnalyzer {
    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let t = Instant::now();
        let r = self.0.analyze(plan, config);
        add(&self.1, &format!("analyzer {}", self.0.name()), t.elapsed());
        r
    }
    fn name(&self) -> &str {
        self.0.name()
    }
}

#[derive(Debug)]
struct TimedLogical(Arc<dyn OptimizerRule + Send + Sync>, Clock);

impl OptimizerRule for TimedLogical {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn apply_order(&self) -> Option<ApplyOrder> {
        self.0.apply_order()
    }
    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let t = Instant::now();
        let r = self.0.rewrite(plan, config);
        add(&self.1, &format!("logical {}", self.0.name()), t.elapsed());
        r
    }
}

#[derive(Debug)]
struct TimedPhysical(Arc<dyn PhysicalOptimizerRule + Send + Sync>, Clock, usize);

impl PhysicalOptimizerRule for TimedPhysical {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let t = Instant::now();
        let r = self.0.optimize(plan, config);
        let name = format!("physical {:02} {}", self.2, self.0.name());
        add(&self.1, &name, t.elapsed());
        r
    }
    fn name(&self) -> &str {
        self.0.name()
    }
    fn schema_check(&self) -> bool {
        self.0.schema_check()
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: sql_phases TABLE_PATH QUERY [RUNS]".into());
    }
    let runs: u32 = args.get(3).map(|r| r.parse()).transpose()?.unwrap_or(300);
    let clock: Clock = Arc::default();
    let analyzer = Analyzer::new()
        .rules
        .into_iter()
        .map(|r| Arc::new(TimedAnalyzer(r, clock.clone())) as _)
        .collect();
    let logical = Optimizer::new()
        .rules
        .into_iter()
        .map(|r| Arc::new(TimedLogical(r, clock.clone())) as _)
        .collect();
    let physical = PhysicalOptimizer::new()
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| Arc::new(TimedPhysical(r, clock.clone(), i)) as _)
        .collect();
    let state = SessionStateBuilder::new()
        .with_config(SessionConfig::new())
        .with_default_features()
        .with_table_factory("MMARROW".into(), Arc::new(MmarrowTableFactory))
        .with_analyzer_rules(analyzer)
        .with_optimizer_rules(logical)
        .with_physical_optimizer_rules(physical)
        .build();
    let ctx = SessionContext::new_with_state(state);
    register_vector_functions(&ctx);
    ctx.register_table("t", Arc::new(MmarrowTable::open(&args[1])?))?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let state = ctx.state();
        let task = state.task_ctx();
        let dialect = datafusion::logical_expr::sqlparser::dialect::GenericDialect {};
        let mut rows = 0;
        for i in 0..runs + 20 {
            if i == 20 {
                clock.lock().unwrap().clear();
            }
            let t = Instant::now();
            let mut statements =
                datafusion::sql::parser::DFParser::parse_sql_with_dialect(&args[2], &dialect)?;
            add(&clock, "0 parse", t.elapsed());
            let t = Instant::now();
            let plan = state
                .statement_to_plan(statements.pop_front().ok_or("no statement")?)
                .await?;
            add(&clock, "1 sql to logical plan", t.elapsed());
            let t = Instant::now();
            let optimized = state.optimize(&plan)?;
            add(&clock, "2 analyzer + logical optimizer", t.elapsed());
            let t = Instant::now();
            let physical = state
                .query_planner()
                .create_physical_plan(&optimized, &state)
                .await?;
            add(
                &clock,
                "3 physical planning + physical optimizer",
                t.elapsed(),
            );
            let t = Instant::now();
            let batches = collect(physical, task.clone()).await?;
            add(&clock, "4 execution", t.elapsed());
            rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        println!("{rows} result rows; mean µs per statement over {runs} runs:");
        let mut all: Vec<_> = clock.lock().unwrap().clone().into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, d) in all {
            if d.as_secs_f64() * 1e6 / f64::from(runs) >= 0.5 {
                println!("{:9.1}  {name}", d.as_secs_f64() * 1e6 / f64::from(runs));
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
