//! Deterministic demo data: a seeded, pure generator of a whole sales organisation with two years
//! of history. No I/O, no clock (`now` is given), no async. The same seed and `now` give the same
//! data, down to every id and timestamp.
//!
//! # Generating model
//!
//! **Company.** An industrial equipment maker (压缩机, 数控机床, 工业机器人, 自动化产线,
//! 空压站改造…): a head office (总公司) and three regional teams, 华东 / 华南 / 华北, holding 45% /
//! 30% / 25% of the accounts, each with one manager and four reps. Users: `admin`, `director` (head
//! office), `mgr.east` / `mgr.south` / `mgr.north`, and `rep.east1`… `rep.north4`; `rep.south2` is
//! on leave from two days before `now` to four days after. Accounts are owned by a rep of their
//! region (the four reps own 32/27/22/19% of them); 90% of opportunities belong to the account's
//! owner, the rest to another rep of the region.
//!
//! **Volumes** for `n` opportunities: 0.375·n accounts, 0.625·n contacts (one or more per account),
//! 0.5·n leads, 7.5·n activities (follow-ups), 0.3·n tasks. An account appears 0–45 days before its
//! first opportunity; opportunities are spread over accounts with a skew, so a few key accounts
//! have many deals and most have one or two.
//!
//! **Calendar.** Records are created over the 731 days ending at `now`. A creation day is drawn
//! with weight month × weekday × trend: February 0.45 (Spring Festival), March–June 1.1–1.2,
//! July–August 0.85–0.9, September–November 1.05–1.15, December–January 0.95–1.0; Saturdays 0.35,
//! Sundays 0.1; a linear trend from 0.8 two years ago to 1.2 today. Times fall mostly in working
//! hours, 08:30–19:00 China time (UTC+8); a stage move that would land at night or on a Sunday
//! happens the next working morning. Nothing happens after `now`.
//!
//! **Stage walk.** Every opportunity starts in 线索确认 (Qualification) and walks the B2B pipeline.
//! In each open stage it waits a log-normal time — medians 6, 10, 14 and 12 days for Qualification,
//! Needs analysis, Proposal and Negotiation, σ = 0.6 in log space — multiplied by 3–8 with
//! probability 6% (a stuck deal). Then it leaves the stage:
//!
//! - from Needs analysis on, with probability 3% (at most once per deal) it moves back one stage
//!   (requirements changed, re-quote);
//! - otherwise it advances with the stage's conversion rate — Qualification→Needs 60%,
//!   Needs→Proposal 55%, Proposal→Negotiation 40% (the proposal bottleneck), Negotiation→Won 60% —
//!   multiplied by the owner's skill (1.12, 1.02, 0.96, 0.90 for the four reps of a region; mean
//!   1.0), and is lost at that stage otherwise. The loss reason (价格, 产品不匹配, 竞争对手, 时机,
//!   无决策, 预算, 关系, 其他) is drawn with stage-specific weights: budget, timing and fit
//!   dominate early losses, price and competitors late ones; 60% of losses carry a note;
//! - a lost deal is reopened into the stage it was lost from with probability 1.5% (at most once),
//!   15–120 days later, and walks on from there.
//!
//! The walk is cut at `now`: a deal whose next move would come after `now` stays open in its
//! current stage, so recent deals (and stuck old ones) make up the open pipeline.
//!
//! **Amounts and dates.** The amount is log-normal around the product's median (¥45k for spare
//! parts up to ¥2.6M for an automation line; overall median about ¥300k; σ = 0.55), times an
//! account-size factor (0.5 micro … 1.8 enterprise), rounded to ¥1,000 and clamped to ¥20k–¥20M.
//! The expected close date is the creation day plus a log-normal sales cycle (median 45 days,
//! longer for larger deals). Once per deal and at a random time while it is open: about 15% of
//! deals change amount (a revised quote ×0.7–1.4, or a 3–15% discount during negotiation), 20% slip
//! the close date by 14–60 days, 3% are handed over to another rep of the same region. When a deal
//! is won or lost its close date becomes the closing day. Open deals carry the next step of their
//! stage with a date 2–10 days after they entered it (so stuck deals show overdue next steps).
//!
//! **History.** All of this is done by driving the real [`crate::opportunity::create`],
//! [`crate::opportunity::apply`] and [`crate::opportunity::move_to`] with the owner at that time as
//! the actor, so the events (created, stage_changed with won / lost / reopened, probability_changed
//! and forecast_category_changed, amount_changed, close_date_changed, owner_changed) are exactly
//! those the application writes and replay to the final state. Probabilities are never overridden.
//! `version` is 1 + the number of writes.
//!
//! **Follow-ups.** Each opportunity gets 1 + k activities, k proportional to its open life (from
//! creation to closing, or to `now`), scaled so the total is 7.5·n in expectation. The first comes
//! right after creation; the others are spread uniformly over the life, with a kind and a Chinese
//! summary typical of the stage the deal was in (calls and WeChat early, proposals by email and
//! meetings later, contract talks in Negotiation); the last activity of a won deal is the signing,
//! of a lost one the loss review. 60% name a contact of the account. The author is the owner at
//! that time. 30% of open deals have no customer-facing follow-up in the last 5–20 days (only notes
//! or internal work), the others had one in the last two days.
//!
//! **Tasks.** About 85% of open deals have an open task for their stage, due from 10 days ago
//! (overdue) to 14 days ahead; the rest of the 0.3·n tasks are done tasks on closed deals, created
//! and done during the deal's life.
//!
//! **Leads.** Sources weighted website 25, exhibition 20, referral 15, WeChat 12, cold call 10,
//! advertising 8, partner 5, tender 5. Leads older than 60 days are mostly qualified or
//! disqualified (45 : 35 of 100), recent ones mostly new or being worked. 30% have no owner (the
//! public pool, 公海) and are new or disqualified. For duplicate detection to find: half the leads
//! drawn as qualified carry the name of an existing account (converted), and one new lead in ten
//! names an existing account — by its short form (恒力精密机械 for 苏州恒力精密机械有限公司) or, a
//! third of the time, by its full name with the name and mobile of one of its contacts. 40% have a
//! company email, 85% a mobile.
//!
//! **Which leads convert (a known truth for lead scoring).** An owned lead drawn as qualified or
//! disqualified is then decided again between the two, by a separate random stream (so that nothing
//! else drawn changes), with probability σ(log-odds) of being qualified, where the log-odds are
//! [`LEAD_TRUTH_BASE`] (0) plus the weights of its source, industry and title and +1.0 for a
//! company email ([`lead_truth_log_odds`]; the tables are public so tests can cite them):
//!
//! | source | w | industry | w | title | w |
//! |---|---|---|---|---|---|
//! | referral | +2.0 | 新能源 | +2.5 | 设备部部长 | +2.0 |
//! | partner | +1.5 | 医药 | +1.5 | 总经理 | +1.5 |
//! | advertising | +1.0 | 机械制造 | +0.5 | 财务总监 | +0.5 |
//! | tender | +0.5 | 汽车零部件 | 0 | 技术总监 | 0 |
//! | exhibition | 0 | 化工 | −0.5 | 采购经理 | −0.5 |
//! | website | −0.5 | 电子 | −0.5 | 生产经理 | −1.0 |
//! | wechat | −1.0 | 食品饮料 | −1.5 | 设备工程师 | −1.5 |
//! | cold_call | −2.5 | 纺织 | −2.5 | 质量部经理 | −2.0 |
//! | | | | | 采购专员 | −2.5 |
//!
//! Over the drawn mix of leads this keeps the qualified share of closed owned leads at about
//! 45 / 80. The weights partly disagree with the default fit rules of
//! [`crate::scoring::ScoringSettings`] (new energy and the equipment department head convert
//! best but are not rewarded; advertising is not bad; exhibitions are only average), so a model
//! learned from closed leads ranks them better than the fit points do. Region and mobile carry
//! no signal. Disqualified leads in the public pool are not decided again (the pool holds no
//! qualified leads) and carry no signal either.
//!
//! **Identifiers.** Mobiles (apart from those deliberate duplicates), unified social credit codes
//! (60% of accounts, valid check character) and account names are unique. Ids run from 1 in each
//! table, in creation order for accounts, leads and opportunities; contacts are grouped by account,
//! events, activities and tasks by opportunity.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::credit_code;
use crate::input::Field;
use crate::model::{
    Account, AccountSize, Activity, ActivityType, BuyingRole, Contact, Grade, Language, Lead,
    LeadStatus, Leave, Opportunity, Pipeline, RecordKind, Role, Source, StageId, Task, Team,
    TeamId, User, UserId,
};
use crate::opportunity::{
    self, EventKind, MoveContext, MoveInput, NewEvent, OpportunityEvent, OpportunityInput,
};
use crate::visibility::Actor;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    pub seed: u64,
    /// The number of opportunities; every other volume scales with it.
    pub opportunities: usize,
    /// The end of the generated history; nothing happens after it.
    pub now: OffsetDateTime,
}

impl DemoConfig {
    /// The standard demo: seed 20260101, 8,000 opportunities.
    pub fn standard(now: OffsetDateTime) -> Self {
        DemoConfig {
            seed: 20_260_101,
            opportunities: 8_000,
            now,
        }
    }
}

/// A demo user and the password to sign in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    pub user: User,
    pub password: &'static str,
}

/// Everything generated, with ids assigned from 1 in each table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoData {
    pub teams: Vec<Team>,
    pub users: Vec<DemoUser>,
    /// The B2B default pipeline with id 1 and stage ids 1..=6 in order.
    pub pipeline: Pipeline,
    pub accounts: Vec<Account>,
    pub contacts: Vec<Contact>,
    pub leads: Vec<Lead>,
    pub opportunities: Vec<Opportunity>,
    /// The opportunities' histories, grouped by opportunity, in order within each.
    pub events: Vec<OpportunityEvent>,
    pub activities: Vec<Activity>,
    pub tasks: Vec<Task>,
}

// ---------------------------------------------------------------------------------------
// Model parameters (documented above).

/// The conversion rates of the stage walk, index 0..4: Qualification, Needs analysis,
/// Proposal, Negotiation (each the chance of advancing from that stage for an owner of
/// skill 1.0). The calibration report on demo data recovers them.
pub const ADVANCE: [f64; 4] = [0.60, 0.55, 0.40, 0.60];
const MEDIAN_DAYS: [f64; 4] = [6.0, 10.0, 14.0, 12.0];
const DURATION_SIGMA: f64 = 0.6;
const STUCK_P: f64 = 0.06;
const BACK_P: f64 = 0.03;
const REOPEN_P: f64 = 0.015;
const AMOUNT_CHANGE_P: f64 = 0.15;
const SLIP_P: f64 = 0.20;
const OWNER_CHANGE_P: f64 = 0.03;
/// Skill of the four reps of a region, by position; mean 1.0.
const REP_SKILL: [f64; 4] = [1.12, 1.02, 0.96, 0.90];
/// Of the four reps of a region, how often each owns a new account.
const REP_WEIGHT: [u32; 4] = [32, 27, 22, 19];

const ACCOUNTS_PER_OPP: f64 = 0.375;
const CONTACTS_PER_OPP: f64 = 0.625;
const LEADS_PER_OPP: f64 = 0.5;
const ACTIVITIES_PER_OPP: f64 = 7.5;
const TASKS_PER_OPP: f64 = 0.3;

const HISTORY_DAYS: i64 = 730;
const MONTH_WEIGHT: [f64; 12] = [
    0.95, 0.45, 1.15, 1.2, 1.15, 1.1, 0.9, 0.85, 1.15, 1.05, 1.15, 1.0,
];

const PIPELINE_ID: i64 = 1;
/// Stage ids are 1..=6: the four open stages, then won and lost.
const WON: StageId = 5;
const LOST: StageId = 6;

fn stage_id(index: usize) -> StageId {
    index as StageId + 1
}

// ---------------------------------------------------------------------------------------
// Time: seconds since the Unix epoch; days are China days (UTC+8).

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
const CST: i64 = 8 * HOUR;
const OPEN_AT: i64 = 8 * HOUR + 1_800;
const CLOSE_AT: i64 = 19 * HOUR;

fn local_day(ts: i64) -> i64 {
    (ts + CST).div_euclid(DAY)
}

fn day_start(day: i64) -> i64 {
    day * DAY - CST
}

/// 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

fn date_of_day(day: i64) -> Date {
    Date::from_julian_day((day + 2_440_588) as i32).expect("demo dates are in range")
}

fn date_of(ts: i64) -> Date {
    date_of_day(local_day(ts))
}

fn add_days(d: Date, days: i64) -> Date {
    date_of_day(d.to_julian_day() as i64 - 2_440_588 + days)
}

// ---------------------------------------------------------------------------------------
// Name tables.

struct City {
    short: &'static str,
    addr: &'static str,
    /// Administrative division code: characters 3–8 of a credit code.
    code: &'static str,
    area: &'static str,
    abbr: &'static str,
}

const fn city(
    short: &'static str,
    addr: &'static str,
    code: &'static str,
    area: &'static str,
    abbr: &'static str,
) -> City {
    City {
        short,
        addr,
        code,
        area,
        abbr,
    }
}

struct Region {
    name: &'static str,
    team: TeamId,
    weight: u32,
    cities: &'static [City],
}

const REGIONS: [Region; 3] = [
    Region {
        name: "华东",
        team: 2,
        weight: 45,
        cities: &[
            city("上海", "上海市浦东新区", "310115", "021", "sh"),
            city("苏州", "江苏省苏州市高新区", "320505", "0512", "su"),
            city("无锡", "江苏省无锡市新吴区", "320214", "0510", "wx"),
            city("常州", "江苏省常州市武进区", "320412", "0519", "cz"),
            city("南京", "江苏省南京市江宁区", "320115", "025", "nj"),
            city("杭州", "浙江省杭州市萧山区", "330109", "0571", "hz"),
            city("宁波", "浙江省宁波市北仑区", "330206", "0574", "nb"),
            city("嘉兴", "浙江省嘉兴市南湖区", "330402", "0573", "jx"),
            city("绍兴", "浙江省绍兴市柯桥区", "330603", "0575", "sx"),
            city("合肥", "安徽省合肥市蜀山区", "340104", "0551", "hf"),
            city("青岛", "山东省青岛市黄岛区", "370211", "0532", "qd"),
            city("烟台", "山东省烟台市福山区", "370611", "0535", "yt"),
        ],
    },
    Region {
        name: "华南",
        team: 3,
        weight: 30,
        cities: &[
            city("广州", "广东省广州市黄埔区", "440112", "020", "gz"),
            city("深圳", "广东省深圳市宝安区", "440306", "0755", "sz"),
            city("东莞", "广东省东莞市长安镇", "441900", "0769", "dg"),
            city("佛山", "广东省佛山市顺德区", "440606", "0757", "fs"),
            city("中山", "广东省中山市火炬开发区", "442000", "0760", "zs"),
            city("珠海", "广东省珠海市香洲区", "440402", "0756", "zh"),
            city("惠州", "广东省惠州市惠阳区", "441303", "0752", "huiz"),
            city("厦门", "福建省厦门市集美区", "350211", "0592", "xm"),
            city("福州", "福建省福州市闽侯县", "350121", "0591", "fz"),
            city("泉州", "福建省泉州市晋江市", "350582", "0595", "qz"),
            city(
                "南宁",
                "广西壮族自治区南宁市西乡塘区",
                "450107",
                "0771",
                "nn",
            ),
        ],
    },
    Region {
        name: "华北",
        team: 4,
        weight: 25,
        cities: &[
            city("北京", "北京市大兴区", "110115", "010", "bj"),
            city("天津", "天津市滨海新区", "120116", "022", "tj"),
            city("石家庄", "河北省石家庄市栾城区", "130111", "0311", "sjz"),
            city("唐山", "河北省唐山市丰润区", "130208", "0315", "ts"),
            city("保定", "河北省保定市竞秀区", "130602", "0312", "bd"),
            city("廊坊", "河北省廊坊市广阳区", "131003", "0316", "lf"),
            city("沧州", "河北省沧州市运河区", "130903", "0317", "cangz"),
            city("太原", "山西省太原市小店区", "140105", "0351", "ty"),
            city("大同", "山西省大同市平城区", "140213", "0352", "dt"),
            city(
                "呼和浩特",
                "内蒙古自治区呼和浩特市赛罕区",
                "150105",
                "0471",
                "hhht",
            ),
        ],
    },
];

/// First and second character of a brand name, with pinyin.
const BRAND_A: [(&str, &str); 40] = [
    ("恒", "heng"),
    ("宏", "hong"),
    ("华", "hua"),
    ("鑫", "xin"),
    ("金", "jin"),
    ("永", "yong"),
    ("盛", "sheng"),
    ("天", "tian"),
    ("东", "dong"),
    ("新", "xin"),
    ("中", "zhong"),
    ("兴", "xing"),
    ("瑞", "rui"),
    ("博", "bo"),
    ("德", "de"),
    ("嘉", "jia"),
    ("凯", "kai"),
    ("海", "hai"),
    ("联", "lian"),
    ("正", "zheng"),
    ("立", "li"),
    ("力", "li"),
    ("汇", "hui"),
    ("科", "ke"),
    ("精", "jing"),
    ("奥", "ao"),
    ("宇", "yu"),
    ("鼎", "ding"),
    ("昌", "chang"),
    ("信", "xin"),
    ("广", "guang"),
    ("远", "yuan"),
    ("亚", "ya"),
    ("振", "zhen"),
    ("锦", "jin"),
    ("通", "tong"),
    ("富", "fu"),
    ("达", "da"),
    ("日", "ri"),
    ("三", "san"),
];

const BRAND_B: [(&str, &str); 40] = [
    ("力", "li"),
    ("达", "da"),
    ("通", "tong"),
    ("泰", "tai"),
    ("源", "yuan"),
    ("丰", "feng"),
    ("盛", "sheng"),
    ("远", "yuan"),
    ("诚", "cheng"),
    ("祥", "xiang"),
    ("邦", "bang"),
    ("顺", "shun"),
    ("成", "cheng"),
    ("威", "wei"),
    ("创", "chuang"),
    ("航", "hang"),
    ("辉", "hui"),
    ("腾", "teng"),
    ("安", "an"),
    ("宝", "bao"),
    ("隆", "long"),
    ("发", "fa"),
    ("业", "ye"),
    ("捷", "jie"),
    ("森", "sen"),
    ("锐", "rui"),
    ("峰", "feng"),
    ("凯", "kai"),
    ("美", "mei"),
    ("华", "hua"),
    ("晟", "sheng"),
    ("恒", "heng"),
    ("康", "kang"),
    ("利", "li"),
    ("鸿", "hong"),
    ("明", "ming"),
    ("升", "sheng"),
    ("澳", "ao"),
    ("冠", "guan"),
    ("骏", "jun"),
];

struct Industry {
    name: &'static str,
    weight: u32,
    /// What the company does, as written in its name; unique across industries.
    suffixes: [&'static str; 5],
}

const INDUSTRIES: [Industry; 8] = [
    Industry {
        name: "机械制造",
        weight: 20,
        suffixes: ["精密机械", "重工机械", "机械设备", "装备制造", "液压机械"],
    },
    Industry {
        name: "汽车零部件",
        weight: 18,
        suffixes: ["汽车零部件", "汽配", "车桥", "精密铸造", "汽车电子"],
    },
    Industry {
        name: "电子",
        weight: 15,
        suffixes: ["电子科技", "电子", "光电科技", "线路板", "智能科技"],
    },
    Industry {
        name: "化工",
        weight: 10,
        suffixes: ["化工", "新材料", "化学", "涂料", "塑胶"],
    },
    Industry {
        name: "食品饮料",
        weight: 9,
        suffixes: ["食品", "饮料", "乳业", "酿造", "食品科技"],
    },
    Industry {
        name: "医药",
        weight: 8,
        suffixes: ["制药", "医药", "生物科技", "医疗器械", "药业"],
    },
    Industry {
        name: "新能源",
        weight: 12,
        suffixes: ["新能源科技", "电池", "光伏科技", "储能科技", "锂电"],
    },
    Industry {
        name: "纺织",
        weight: 8,
        suffixes: ["纺织", "印染", "服饰", "化纤", "家纺"],
    },
];

const COMPANY_FORMS: [(&str, u32); 3] =
    [("有限公司", 70), ("股份有限公司", 20), ("集团有限公司", 10)];

const ROADS: [&str; 12] = [
    "长江路",
    "黄河路",
    "人民路",
    "建设路",
    "创业路",
    "科技路",
    "工业大道",
    "兴业路",
    "发展大道",
    "振兴路",
    "星湖街",
    "金山路",
];

const SURNAMES: [(&str, &str); 40] = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("于", "yu"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
];

const GIVEN_NAMES: [(&str, &str); 60] = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂英", "guiying"),
    ("建华", "jianhua"),
    ("建国", "jianguo"),
    ("志强", "zhiqiang"),
    ("海燕", "haiyan"),
    ("晓东", "xiaodong"),
    ("晓燕", "xiaoyan"),
    ("俊杰", "junjie"),
    ("文博", "wenbo"),
    ("子涵", "zihan"),
    ("浩然", "haoran"),
    ("欣怡", "xinyi"),
    ("思远", "siyuan"),
    ("宇航", "yuhang"),
    ("佳琪", "jiaqi"),
    ("国强", "guoqiang"),
    ("立新", "lixin"),
    ("春梅", "chunmei"),
    ("红梅", "hongmei"),
    ("志刚", "zhigang"),
    ("永刚", "yonggang"),
    ("建军", "jianjun"),
    ("亚楠", "yanan"),
    ("雪梅", "xuemei"),
    ("晓明", "xiaoming"),
    ("丹", "dan"),
    ("鹏", "peng"),
    ("辉", "hui"),
    ("斌", "bin"),
    ("波", "bo"),
    ("宁", "ning"),
    ("倩", "qian"),
    ("婷", "ting"),
    ("颖", "ying"),
    ("琳", "lin"),
    ("凯", "kai"),
    ("鑫", "xin"),
    ("帅", "shuai"),
    ("龙", "long"),
];

const CONTACT_TITLES: [(&str, Option<BuyingRole>, u32); 9] = [
    ("总经理", Some(BuyingRole::DecisionMaker), 12),
    ("采购经理", Some(BuyingRole::Influencer), 22),
    ("设备部部长", Some(BuyingRole::Champion), 18),
    ("技术总监", Some(BuyingRole::Influencer), 12),
    ("财务总监", Some(BuyingRole::EconomicBuyer), 8),
    ("生产经理", Some(BuyingRole::User), 10),
    ("设备工程师", Some(BuyingRole::User), 8),
    ("质量部经理", Some(BuyingRole::Blocker), 3),
    ("采购专员", None, 7),
];

const ACCOUNT_TAGS: [&str; 6] = [
    "重点客户",
    "老客户",
    "上市公司",
    "国企",
    "外资企业",
    "专精特新",
];
const OPPORTUNITY_TAGS: [&str; 6] = [
    "年度框架",
    "节能补贴",
    "技改项目",
    "招标",
    "老客户复购",
    "加急",
];

/// Product, median amount in yuan, weight.
const PRODUCTS: [(&str, f64, u32); 12] = [
    ("螺杆空压机", 160_000.0, 16),
    ("离心式压缩机", 900_000.0, 5),
    ("数控机床", 420_000.0, 14),
    ("五轴加工中心", 1_500_000.0, 4),
    ("工业机器人", 320_000.0, 12),
    ("焊接机器人工作站", 650_000.0, 6),
    ("自动化产线", 2_600_000.0, 4),
    ("空压站节能改造", 850_000.0, 7),
    ("激光切割机", 480_000.0, 8),
    ("注塑机", 280_000.0, 8),
    ("设备维保年度合同", 90_000.0, 9),
    ("备品备件", 45_000.0, 7),
];
const TITLE_TAILS: [&str; 5] = ["项目", "采购", "采购项目", "升级项目", "（二期）"];

const SOURCES: [(Source, u32); 8] = [
    (Source::Website, 25),
    (Source::Exhibition, 20),
    (Source::Referral, 15),
    (Source::Wechat, 12),
    (Source::ColdCall, 10),
    (Source::Advertising, 8),
    (Source::Partner, 5),
    (Source::Tender, 5),
];

/// The known truth of lead conversion (see the module docs): the log-odds of an owned,
/// closed lead being qualified are this plus the weights below.
pub const LEAD_TRUTH_BASE: f64 = 0.0;
/// Log-odds weight of a lead's source.
pub const LEAD_TRUTH_SOURCE: [(Source, f64); 8] = [
    (Source::Referral, 2.0),
    (Source::Partner, 1.5),
    (Source::Advertising, 1.0),
    (Source::Tender, 0.5),
    (Source::Exhibition, 0.0),
    (Source::Website, -0.5),
    (Source::Wechat, -1.0),
    (Source::ColdCall, -2.5),
];
/// Log-odds weight of a lead's industry.
pub const LEAD_TRUTH_INDUSTRY: [(&str, f64); 8] = [
    ("新能源", 2.5),
    ("医药", 1.5),
    ("机械制造", 0.5),
    ("汽车零部件", 0.0),
    ("化工", -0.5),
    ("电子", -0.5),
    ("食品饮料", -1.5),
    ("纺织", -2.5),
];
/// Log-odds weight of a lead's contact title.
pub const LEAD_TRUTH_TITLE: [(&str, f64); 9] = [
    ("设备部部长", 2.0),
    ("总经理", 1.5),
    ("财务总监", 0.5),
    ("技术总监", 0.0),
    ("采购经理", -0.5),
    ("生产经理", -1.0),
    ("设备工程师", -1.5),
    ("质量部经理", -2.0),
    ("采购专员", -2.5),
];
/// Log-odds weight of a company email (every demo email is one).
pub const LEAD_TRUTH_COMPANY_EMAIL: f64 = 1.0;

/// The known log-odds that a demo lead with these features is qualified (values not in the
/// tables weigh 0).
pub fn lead_truth_log_odds(
    source: Option<Source>,
    industry: &str,
    title: &str,
    company_email: bool,
) -> f64 {
    let weight = |table: &[(&str, f64)], v: &str| {
        table.iter().find(|(k, _)| *k == v).map_or(0.0, |(_, w)| *w)
    };
    LEAD_TRUTH_BASE
        + LEAD_TRUTH_SOURCE
            .iter()
            .find(|(k, _)| Some(*k) == source)
            .map_or(0.0, |(_, w)| *w)
        + weight(&LEAD_TRUTH_INDUSTRY, industry)
        + weight(&LEAD_TRUTH_TITLE, title)
        + if company_email {
            LEAD_TRUTH_COMPANY_EMAIL
        } else {
            0.0
        }
}

/// Salt of the separate stream that decides which closed leads are qualified.
const LEAD_TRUTH_SALT: u64 = 0x1EAD_5C0E_7A11_0001;
/// Seeds the follow-ups of leads and the accounts returned to the pool apart from the main
/// stream, so that adding them changed nothing else.
const LEAD_FOLLOW_UP_SALT: u64 = 0x1EAD_F011_0000_0002;
const ACCOUNT_POOL_SALT: u64 = 0xACC0_9001_0000_0003;

/// What reps log on a lead they work: (kind, summary).
const LEAD_ACTIVITIES: [(ActivityType, &str); 6] = [
    (ActivityType::Call, "首次电话沟通，了解需求和预算"),
    (ActivityType::Wechat, "加微信，发送产品资料"),
    (ActivityType::Call, "回访，确认采购时间和决策人"),
    (ActivityType::Email, "发送公司介绍和案例"),
    (ActivityType::Visit, "上门拜访，参观现场"),
    (ActivityType::Call, "电话未接通，稍后再联系"),
];

const SIZES: [(AccountSize, u32, f64); 5] = [
    (AccountSize::Micro, 5, 0.5),
    (AccountSize::Small, 25, 0.7),
    (AccountSize::Medium, 40, 1.0),
    (AccountSize::Large, 22, 1.3),
    (AccountSize::Enterprise, 8, 1.8),
];

/// Keys of the default loss-reason taxonomy (价格, 产品不匹配, 竞争对手, 时机, 无决策, 预算, 关系,
/// 其他), in this order.
const LOSS_REASONS: [&str; 8] = [
    "price",
    "product_fit",
    "competitor",
    "timing",
    "no_decision",
    "budget",
    "relationship",
    "other",
];
/// Loss reason weights by the stage the deal is lost in.
const LOSS_WEIGHTS: [[u32; 8]; 4] = [
    [5, 20, 5, 20, 15, 25, 2, 8],
    [8, 18, 12, 15, 15, 20, 4, 8],
    [30, 10, 22, 8, 10, 10, 5, 5],
    [35, 3, 25, 5, 7, 8, 12, 5],
];
const LOSS_NOTES: [[&str; 2]; 8] = [
    ["客户选择了报价低 15% 的国产品牌", "预算内无法接受我方报价"],
    [
        "客户需要的排气量超出我方产品范围",
        "工艺要求与现有机型不匹配",
    ],
    ["竞争对手提供了更长的质保期", "客户最终选择了原有供应商"],
    ["客户扩产计划推迟到明年", "项目因厂房搬迁暂停"],
    ["客户内部迟迟没有决策，项目搁置", "决策人调岗，项目无人推动"],
    ["客户今年预算被削减", "技改资金未获批"],
    ["竞争对手与客户高层关系更紧密", "对接人离职，关系需重建"],
    ["客户公司被收购，采购暂停", "其他原因，见跟进记录"],
];

const NEXT_STEPS: [[&str; 2]; 4] = [
    ["完成需求调研表", "确认预算和采购时间"],
    ["约技术交流，确认工艺参数", "找到决策人，明确采购流程"],
    ["发送正式报价单", "跟进报价反馈，准备方案讲解"],
    ["准备合同草稿", "确认付款方式和交期，推动签约"],
];

type Entry = (ActivityType, &'static str);

const STAGE_ACTIVITIES: [&[Entry]; 4] = [
    &[
        (ActivityType::Call, "电话沟通需求，客户关注交期"),
        (
            ActivityType::Call,
            "初次电话联系，确认设备采购意向和预算范围",
        ),
        (ActivityType::Call, "电话回访，确认需求调研表填写进度"),
        (ActivityType::Wechat, "微信发送公司介绍和产品样册"),
        (ActivityType::Wechat, "微信沟通现有设备型号和使用年限"),
        (ActivityType::Visit, "上门拜访设备部，了解现有产线情况"),
        (ActivityType::Email, "邮件发送产品资料和典型案例"),
        (ActivityType::Sms, "短信提醒客户查收资料"),
        (ActivityType::Note, "客户有扩产计划，预计下半年采购"),
        (ActivityType::Internal, "与经理讨论客户分级和跟进策略"),
    ],
    &[
        (ActivityType::Visit, "上门拜访设备部，演示样机"),
        (ActivityType::Visit, "现场勘测空压站，记录管网和用气量"),
        (
            ActivityType::Meeting,
            "与技术总监开需求评审会，确认工艺参数",
        ),
        (ActivityType::Call, "电话确认采购时间和决策流程"),
        (ActivityType::Wechat, "微信沟通现场照片和设备参数"),
        (ActivityType::Demo, "安排客户到展厅参观样机运行"),
        (ActivityType::Email, "邮件发送需求调研表"),
        (ActivityType::Call, "电话沟通预算，客户计划分两期实施"),
        (
            ActivityType::Note,
            "客户现有设备老化，能耗偏高，有节能改造需求",
        ),
        (ActivityType::Internal, "内部讨论技术方案可行性"),
    ],
    &[
        (ActivityType::Email, "邮件发送技术方案和报价单"),
        (ActivityType::Meeting, "方案讲解会，客户技术和采购部门参加"),
        (ActivityType::Call, "电话跟进报价反馈，客户认为价格偏高"),
        (ActivityType::Call, "电话沟通方案细节，客户要求增加备件清单"),
        (ActivityType::Wechat, "微信沟通方案修改意见"),
        (ActivityType::Visit, "陪同技术工程师现场勘测"),
        (ActivityType::Demo, "远程视频演示设备运行数据"),
        (ActivityType::Email, "邮件发送修改后的报价单"),
        (ActivityType::Internal, "内部评审报价，申请特价"),
        (ActivityType::Note, "竞争对手也在报价，需突出节能收益"),
    ],
    &[
        (ActivityType::Meeting, "商务谈判，讨论付款方式和交期"),
        (ActivityType::Call, "电话沟通合同条款，客户要求延长质保"),
        (ActivityType::Email, "邮件发送合同草稿"),
        (ActivityType::Visit, "拜访总经理，推动签约"),
        (ActivityType::Wechat, "微信确认合同修改点"),
        (ActivityType::Call, "电话确认验收标准和培训安排"),
        (ActivityType::Meeting, "与采购和财务确认最终价格"),
        (ActivityType::Internal, "内部审批合同折扣"),
        (ActivityType::Note, "客户财务流程较慢，预计两周内盖章"),
    ],
];
const QUIET_ACTIVITIES: [Entry; 3] = [
    (ActivityType::Note, "整理客户资料，更新需求信息"),
    (ActivityType::Internal, "内部沟通项目进展"),
    (ActivityType::Note, "客户暂未回复，待跟进"),
];
const WON_ACTIVITY: Entry = (ActivityType::Meeting, "合同签订，确认交付计划和回款节点");
const LOST_ACTIVITY: Entry = (ActivityType::Note, "输单复盘，已记录输单原因");
const AFTER_LOSS_ACTIVITY: Entry = (ActivityType::Call, "回访客户，了解项目后续计划");
const OUTCOMES: [&str; 6] = [
    "客户认可方案",
    "客户需要内部讨论",
    "需再次跟进",
    "已约下次拜访时间",
    "客户反馈价格偏高",
    "客户要求提供案例",
];

const TASK_TITLES: [[&str; 3]; 4] = [
    [
        "完成需求调研表",
        "确认客户预算和采购时间",
        "约客户设备部拜访",
    ],
    [
        "整理现场勘测记录",
        "提交技术方案初稿",
        "确认决策人和采购流程",
    ],
    ["发送正式报价单", "跟进报价反馈", "准备方案讲解材料"],
    ["准备合同草稿", "申请特价审批", "确认付款方式和交期"],
];

const LEAD_NOTES: [&str; 6] = [
    "展会留资，关注空压机节能改造",
    "官网咨询数控机床价格",
    "老客户介绍，计划新建自动化产线",
    "招标公告：焊接机器人工作站采购",
    "微信公众号留言咨询维保服务",
    "电话咨询激光切割机交期",
];

/// Mobile prefixes for generated people (138 is kept for the demo users).
const MOBILE_PREFIXES: [&str; 24] = [
    "139", "137", "136", "135", "133", "159", "158", "157", "156", "155", "152", "151", "150",
    "189", "188", "187", "186", "185", "183", "182", "181", "180", "177", "199",
];

struct DemoPerson {
    login: &'static str,
    name: &'static str,
    role: Role,
    team: Option<TeamId>,
    password: &'static str,
}

const fn person(
    login: &'static str,
    name: &'static str,
    role: Role,
    team: Option<TeamId>,
    password: &'static str,
) -> DemoPerson {
    DemoPerson {
        login,
        name,
        role,
        team,
        password,
    }
}

/// Ids 1..=17: admin, director, the managers of teams 2/3/4, then four reps per region.
const PEOPLE: [DemoPerson; 17] = [
    person("admin", "系统管理员", Role::Admin, None, "admin1234"),
    person("director", "陈建国", Role::Director, Some(1), "director123"),
    person("mgr.east", "王磊", Role::Manager, Some(2), "manager123"),
    person("mgr.south", "李娜", Role::Manager, Some(3), "manager123"),
    person("mgr.north", "张伟", Role::Manager, Some(4), "manager123"),
    person("rep.east1", "刘洋", Role::Rep, Some(2), "sales1234"),
    person("rep.east2", "陈静", Role::Rep, Some(2), "sales1234"),
    person("rep.east3", "杨帆", Role::Rep, Some(2), "sales1234"),
    person("rep.east4", "赵敏", Role::Rep, Some(2), "sales1234"),
    person("rep.south1", "黄志强", Role::Rep, Some(3), "sales1234"),
    person("rep.south2", "周婷", Role::Rep, Some(3), "sales1234"),
    person("rep.south3", "吴俊杰", Role::Rep, Some(3), "sales1234"),
    person("rep.south4", "林晓燕", Role::Rep, Some(3), "sales1234"),
    person("rep.north1", "孙浩", Role::Rep, Some(4), "sales1234"),
    person("rep.north2", "马丽", Role::Rep, Some(4), "sales1234"),
    person("rep.north3", "朱鹏", Role::Rep, Some(4), "sales1234"),
    person("rep.north4", "胡雪", Role::Rep, Some(4), "sales1234"),
];
/// The rep on leave around `now` (rep.south2).
const ON_LEAVE: UserId = 11;

/// The user id of rep `k` (0..4) of region `r` (0..3).
fn rep_id(region: usize, k: usize) -> UserId {
    6 + 4 * region as UserId + k as UserId
}

/// Region index and position of a rep.
fn rep_slot(rep: UserId) -> (usize, usize) {
    let i = (rep - 6) as usize;
    (i / 4, i % 4)
}

// ---------------------------------------------------------------------------------------
// Small helpers.

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.gen_range(0..total);
    for &(item, w) in items {
        if x < w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

fn pick_index(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.gen_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if x < w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn log_normal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Rounds `x` up or down at random so that the expected value is `x`.
fn stochastic_round(rng: &mut ChaCha8Rng, x: f64) -> usize {
    let floor = x.floor();
    floor as usize + usize::from(rng.gen::<f64>() < x - floor)
}

fn scaled(n: usize, per_opp: f64) -> usize {
    (n as f64 * per_opp).round() as usize
}

/// An amount in fen: rounded to ¥1,000 and clamped to ¥20k–¥20M.
fn amount_fen(yuan: f64) -> i64 {
    let thousands = (yuan / 1_000.0).round().clamp(20.0, 20_000.0) as i64;
    thousands * 100_000
}

fn push_digits(out: &mut String, mut value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    for i in (0..width).rev() {
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.push_str(std::str::from_utf8(&buf[..width]).expect("digits"));
}

/// A unique mainland mobile for `serial` (< 10^8): the 8 digits after the prefix are a
/// bijection of the serial.
fn mobile(serial: u64) -> String {
    let mut s = String::with_capacity(11);
    s.push_str(MOBILE_PREFIXES[(serial % MOBILE_PREFIXES.len() as u64) as usize]);
    push_digits(
        &mut s,
        (serial.wrapping_mul(7_654_321) + 31_415_926) % 100_000_000,
        8,
    );
    s
}

/// A valid unified social credit code, unique per `id`: "91" + division code + a 9-character
/// organisation part that is a bijection of `id` + the check character.
fn credit_code_for(id: u64, division: &str, new_style: bool) -> String {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut b = [0u8; 18];
    b[0] = b'9';
    b[1] = b'1';
    b[2..8].copy_from_slice(division.as_bytes());
    if new_style {
        // "MA" + 7 base-31 characters.
        b[8] = b'M';
        b[9] = b'A';
        let mut x = (id.wrapping_mul(1_000_003) + 7_777) % 27_512_614_111;
        for i in (10..17).rev() {
            b[i] = ALPHABET[(x % 31) as usize];
            x /= 31;
        }
    } else {
        let mut x = (id.wrapping_mul(48_271) + 123_456) % 1_000_000_000;
        for i in (8..17).rev() {
            b[i] = b'0' + (x % 10) as u8;
            x /= 10;
        }
    }
    b[17] = credit_code::check_char(&b[..17]).expect("alphabet characters") as u8;
    String::from_utf8(b.to_vec()).expect("ascii")
}

fn actor(user_id: UserId) -> Actor {
    let (region, _) = rep_slot(user_id);
    Actor {
        user_id,
        role: Role::Rep,
        team_id: Some(REGIONS[region].team),
    }
}

fn manager_of(rep: UserId) -> Actor {
    let team = REGIONS[rep_slot(rep).0].team;
    Actor {
        // The managers of teams 2, 3 and 4 are users 3, 4 and 5.
        user_id: team + 1,
        role: Role::Manager,
        team_id: Some(team),
    }
}

fn to_events(out: &mut Vec<OpportunityEvent>, opportunity_id: i64, events: Vec<NewEvent>) {
    for e in events {
        out.push(OpportunityEvent {
            id: out.len() as i64 + 1,
            opportunity_id,
            kind: e.kind,
            actor_id: e.actor_id,
            at: e.at,
            from_stage_id: e.from_stage_id,
            to_stage_id: e.to_stage_id,
            old_value: e.old_value,
            new_value: e.new_value,
        });
    }
}

// ---------------------------------------------------------------------------------------
// The generator.

/// What the later steps need to know about an account.
struct AccountMeta {
    region: usize,
    city: usize,
    brand: (usize, usize),
    size_factor: f64,
    owner: UserId,
    source: Option<Source>,
    /// Byte range of "brand + business" in the name (the name without city and form).
    core: (usize, usize),
    contacts: (usize, usize),
}

/// One step of an opportunity's plan, executed in time order.
#[derive(Clone, Copy)]
enum Step {
    Move {
        to: StageId,
        loss: Option<(usize, Option<usize>)>,
    },
    Amount,
    Slip(i64),
    Owner(UserId),
}

struct Gen {
    rng: ChaCha8Rng,
    now: i64,
    offset: UtcOffset,
    first_day: i64,
    day_cdf: Vec<f64>,
    mobile_serial: u64,
    names: HashSet<u64>,
    loss_reasons: Vec<crate::process::LossReason>,
    /// The working calendar the standard actions' due dates are counted in.
    calendar: crate::calendar::WorkCalendar,
}

impl Gen {
    fn new(cfg: &DemoConfig) -> Gen {
        let now = cfg.now.unix_timestamp();
        let today = local_day(now);
        let first_day = today - HISTORY_DAYS;
        let mut day_cdf = Vec::with_capacity(HISTORY_DAYS as usize + 1);
        let mut total = 0.0;
        for k in 0..=HISTORY_DAYS {
            let day = first_day + k;
            let month = date_of_day(day).month() as usize - 1;
            let weekday = match weekday(day) {
                5 => 0.35,
                6 => 0.1,
                _ => 1.0,
            };
            let trend = 0.8 + 0.4 * k as f64 / HISTORY_DAYS as f64;
            total += MONTH_WEIGHT[month] * weekday * trend;
            day_cdf.push(total);
        }
        Gen {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            now,
            offset: cfg.now.offset(),
            first_day,
            day_cdf,
            mobile_serial: 0,
            names: HashSet::new(),
            loss_reasons: crate::process::default_loss_reasons(),
            calendar: crate::calendar::WorkCalendar::china_default(),
        }
    }

    fn dt(&self, ts: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(ts)
            .expect("demo times are in range")
            .to_offset(self.offset)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen::<f64>() < p
    }

    fn work_time(&mut self, day: i64, from: i64, span: i64) -> i64 {
        day_start(day) + from + self.rng.gen_range(0..span)
    }

    /// A creation time: a seasonal working day of the history, in working hours, ≤ now.
    fn created_ts(&mut self) -> i64 {
        let total = *self.day_cdf.last().expect("non-empty");
        let u = self.rng.gen::<f64>() * total;
        let idx = self
            .day_cdf
            .partition_point(|&c| c <= u)
            .min(self.day_cdf.len() - 1);
        let ts = self.work_time(self.first_day + idx as i64, OPEN_AT, 10 * HOUR);
        if ts > self.now {
            self.now - self.rng.gen_range(0..1_800)
        } else {
            ts
        }
    }

    /// Moves a time forward into working hours (never backward).
    fn snap(&mut self, ts: i64) -> i64 {
        let day = local_day(ts);
        let tod = ts - day_start(day);
        if weekday(day) == 6 {
            self.work_time(day + 1, OPEN_AT, 3 * HOUR)
        } else if tod < OPEN_AT {
            self.work_time(day, OPEN_AT, 2 * HOUR)
        } else if tod > CLOSE_AT {
            let next = if weekday(day + 1) == 6 {
                day + 2
            } else {
                day + 1
            };
            self.work_time(next, OPEN_AT, 3 * HOUR)
        } else {
            ts
        }
    }

    /// [`Gen::snap`], unless that would pass `limit`.
    fn snap_until(&mut self, ts: i64, limit: i64) -> i64 {
        let snapped = self.snap(ts);
        if snapped <= limit {
            snapped
        } else {
            ts
        }
    }

    fn next_mobile(&mut self) -> String {
        self.mobile_serial += 1;
        mobile(self.mobile_serial)
    }

    fn person_name(&mut self) -> (usize, usize) {
        // Common surnames are more common.
        let s = (self.rng.gen::<f64>().powf(1.6) * SURNAMES.len() as f64) as usize;
        (
            s.min(SURNAMES.len() - 1),
            self.rng.gen_range(0..GIVEN_NAMES.len()),
        )
    }

    fn full_name((s, g): (usize, usize)) -> String {
        let mut name = String::with_capacity(12);
        name.push_str(SURNAMES[s].0);
        name.push_str(GIVEN_NAMES[g].0);
        name
    }

    /// A fresh company name: (name, city, brand, byte range of brand + business in the name).
    fn company_name(
        &mut self,
        region: usize,
        industry: usize,
    ) -> (String, usize, (usize, usize), (usize, usize)) {
        let cities = REGIONS[region].cities;
        let mut tries = 0;
        loop {
            let c = self.rng.gen_range(0..cities.len());
            let a = self.rng.gen_range(0..BRAND_A.len());
            let mut b = self.rng.gen_range(0..BRAND_B.len());
            if BRAND_A[a].0 == BRAND_B[b].0 {
                b = (b + 1) % BRAND_B.len();
            }
            let sfx = self.rng.gen_range(0..5);
            let form = pick_index(&mut self.rng, &COMPANY_FORMS.map(|f| f.1));
            let key = ((region * 16 + c) as u64) << 32
                | (a as u64) << 24
                | (b as u64) << 16
                | (industry as u64) << 8
                | (sfx as u64) << 4
                | form as u64;
            tries += 1;
            if !self.names.insert(key) && tries < 50 {
                continue;
            }
            let city = &cities[c];
            let mut name = String::with_capacity(48);
            name.push_str(city.short);
            let core_start = name.len();
            name.push_str(BRAND_A[a].0);
            name.push_str(BRAND_B[b].0);
            name.push_str(INDUSTRIES[industry].suffixes[sfx]);
            let core_end = name.len();
            name.push_str(COMPANY_FORMS[form].0);
            return (name, c, (a, b), (core_start, core_end));
        }
    }

    fn region(&mut self) -> usize {
        pick_index(&mut self.rng, &REGIONS.map(|r| r.weight))
    }

    fn industry(&mut self) -> usize {
        pick_index(&mut self.rng, &INDUSTRIES.map(|i| i.weight))
    }

    fn rep_of(&mut self, region: usize) -> UserId {
        rep_id(region, pick_index(&mut self.rng, &REP_WEIGHT))
    }

    fn other_rep(&mut self, rep: UserId) -> UserId {
        let (region, k) = rep_slot(rep);
        rep_id(region, (k + self.rng.gen_range(1..4)) % 4)
    }
}

fn teams() -> Vec<Team> {
    [
        (1, "总公司", None, None),
        (2, "华东大区", Some(1), Some("华东")),
        (3, "华南大区", Some(1), Some("华南")),
        (4, "华北大区", Some(1), Some("华北")),
    ]
    .into_iter()
    .map(|(id, name, parent_id, region)| Team {
        id,
        name: name.into(),
        parent_id,
        archived: false,
        // Each regional team sees the public pool of its region.
        regions: region.into_iter().map(String::from).collect(),
    })
    .collect()
}

fn users(now: OffsetDateTime) -> Vec<DemoUser> {
    let created_at = now - time::Duration::days(HISTORY_DAYS + 70);
    let today = date_of(now.unix_timestamp());
    PEOPLE
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = i as UserId + 1;
            let mut mobile = String::from("1380013");
            push_digits(&mut mobile, 8_000 + id as u64, 4);
            DemoUser {
                user: User {
                    id,
                    login: p.login.into(),
                    display_name: p.name.into(),
                    email: Some(format!("{}@demo.shangji.cn", p.login)),
                    mobile: Some(mobile),
                    role: p.role,
                    team_id: p.team,
                    active: true,
                    leaves: if id == ON_LEAVE {
                        vec![Leave {
                            from: add_days(today, -2),
                            to: add_days(today, 4),
                        }]
                    } else {
                        vec![]
                    },
                    language: Some(Language::ZhCn),
                    created_at,
                },
                password: p.password,
            }
        })
        .collect()
}

fn pipeline() -> Pipeline {
    crate::process::build_pipeline(&crate::process::b2b_template(), PIPELINE_ID, stage_id(0))
}

/// What a diligent rep confirms when moving `opp` to `to`: the checklist items of the gates
/// on the way and the standard actions the current stage requires before leaving.
fn gate_answers(pipeline: &Pipeline, opp: &Opportunity, to: StageId) -> (Vec<String>, Vec<String>) {
    let (Some(from), Some(to)) = (pipeline.stage(opp.stage_id), pipeline.stage(to)) else {
        return (vec![], vec![]);
    };
    let checklist = crate::process::gates_on_the_way(pipeline, from, to)
        .iter()
        .flat_map(|s| s.gate.checklist.iter().map(|c| c.key.clone()))
        .collect();
    let actions = from
        .actions
        .iter()
        .filter(|a| a.required_to_leave)
        .map(|a| a.key.clone())
        .collect();
    (checklist, actions)
}

/// Generates the demo organisation and its history. Pure and deterministic.
pub fn generate(cfg: &DemoConfig) -> DemoData {
    let mut g = Gen::new(cfg);
    let n = cfg.opportunities;
    let pipeline = pipeline();

    // Opportunity creation times (ids follow them) and the account each one belongs to.
    let mut opp_created: Vec<i64> = (0..n).map(|_| g.created_ts()).collect();
    opp_created.sort_unstable();
    let n_accounts = if n == 0 {
        0
    } else {
        scaled(n, ACCOUNTS_PER_OPP).max(1)
    };
    // Skewed: a few key accounts have many deals, most have one or two.
    let opp_slot: Vec<usize> = (0..n)
        .map(|_| {
            let u: f64 = g.rng.gen();
            ((u.powf(1.6) * n_accounts as f64) as usize).min(n_accounts - 1)
        })
        .collect();

    let (accounts, contacts, metas, opp_account) =
        generate_accounts(&mut g, n, n_accounts, &opp_created, &opp_slot);
    drop(opp_slot);

    let mut opportunities = Vec::with_capacity(n);
    let mut events = Vec::with_capacity(n * 10);
    for (i, (&created, &account)) in opp_created.iter().zip(&opp_account).enumerate() {
        let (opp, evs) = generate_opportunity(
            &mut g,
            &pipeline,
            i as i64 + 1,
            created,
            &metas[account],
            account as i64 + 1,
            &contacts,
        );
        opportunities.push(opp);
        to_events(&mut events, i as i64 + 1, evs);
    }
    drop(opp_created);
    drop(opp_account);

    let (mut activities, tasks) =
        generate_follow_ups(&mut g, &opportunities, &events, &metas, &contacts);
    let leads = generate_leads(&mut g, cfg.seed, n, &accounts, &metas, &contacts);
    lead_follow_ups(cfg.seed, g.now, &leads, &mut activities);
    let mut accounts = accounts;
    pool_idle_accounts(cfg.seed, g.now, &mut accounts, &opportunities);

    DemoData {
        teams: teams(),
        users: users(cfg.now),
        pipeline,
        accounts,
        contacts,
        leads,
        opportunities,
        events,
        activities,
        tasks,
    }
}

/// Accounts (ids in creation order), their contacts, and for each opportunity the index of
/// its account.
fn generate_accounts(
    g: &mut Gen,
    n: usize,
    n_accounts: usize,
    opp_created: &[i64],
    opp_slot: &[usize],
) -> (Vec<Account>, Vec<Contact>, Vec<AccountMeta>, Vec<usize>) {
    // An account appears a little before its first deal; accounts without deals at any time.
    let mut first = vec![i64::MAX; n_accounts];
    for (&t, &s) in opp_created.iter().zip(opp_slot) {
        first[s] = first[s].min(t);
    }
    let lower = day_start(g.first_day - 30);
    let slot_created: Vec<i64> = first
        .iter()
        .map(|&f| {
            if f == i64::MAX {
                g.created_ts()
            } else {
                let back = g.rng.gen_range(0..45 * DAY);
                (f - back).max(lower).min(f)
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..n_accounts).collect();
    order.sort_by_key(|&s| (slot_created[s], s));
    let mut index_of_slot = vec![0usize; n_accounts];
    for (i, &s) in order.iter().enumerate() {
        index_of_slot[s] = i;
    }
    let opp_account: Vec<usize> = opp_slot.iter().map(|&s| index_of_slot[s]).collect();

    // Contacts: one per account plus the rest spread at random.
    let n_contacts = scaled(n, CONTACTS_PER_OPP).max(n_accounts);
    let mut contact_count = vec![1usize; n_accounts];
    for _ in n_accounts..n_contacts {
        contact_count[g.rng.gen_range(0..n_accounts)] += 1;
    }

    let mut accounts = Vec::with_capacity(n_accounts);
    let mut metas = Vec::with_capacity(n_accounts);
    let mut contacts = Vec::with_capacity(n_contacts);
    for (i, &slot) in order.iter().enumerate() {
        let id = i as i64 + 1;
        let created = slot_created[slot];
        let region = g.region();
        let industry = g.industry();
        let (name, city, brand, core) = g.company_name(region, industry);
        let (size, _, size_factor) = SIZES[pick_index(&mut g.rng, &SIZES.map(|s| s.1))];
        let owner = g.rep_of(region);
        let source = if g.chance(0.15) {
            Some(Source::Existing)
        } else if g.chance(0.9) {
            Some(pick(&mut g.rng, &SOURCES))
        } else {
            None
        };
        let c = &REGIONS[region].cities[city];
        let credit_code = g
            .chance(0.6)
            .then(|| credit_code_for(id as u64, c.code, g.rng.gen::<bool>()));
        let mut tags = Vec::new();
        if g.chance(0.25) {
            tags.push(ACCOUNT_TAGS[g.rng.gen_range(0..ACCOUNT_TAGS.len())].to_string());
            if g.chance(0.2) {
                let t = ACCOUNT_TAGS[g.rng.gen_range(0..ACCOUNT_TAGS.len())];
                if tags[0] != t {
                    tags.push(t.to_string());
                }
            }
        }
        let mut address = String::with_capacity(64);
        address.push_str(c.addr);
        address.push_str(ROADS[g.rng.gen_range(0..ROADS.len())]);
        let number: u64 = g.rng.gen_range(1..1_000);
        push_digits(
            &mut address,
            number,
            1 + usize::from(number >= 10) + usize::from(number >= 100),
        );
        address.push('号');
        let created_at = g.dt(created);

        // Contacts of this account, the first one created with it.
        let contacts_start = contacts.len();
        for k in 0..contact_count[slot] {
            let c_created = if k == 0 {
                created
            } else {
                (created + g.rng.gen_range(DAY..200 * DAY)).min(g.now)
            };
            contacts.push(generate_contact(
                g,
                contacts.len() as i64 + 1,
                id,
                owner,
                (region, city, brand),
                c_created,
            ));
        }

        accounts.push(Account {
            id,
            name,
            credit_code,
            industry: Some(INDUSTRIES[industry].name.into()),
            region: Some(REGIONS[region].name.into()),
            size: Some(size),
            source,
            owner_id: Some(owner),
            pool_since: None,
            tags,
            address: Some(address),
            notes: None,
            custom: Default::default(),
            archived: false,
            version: 1,
            created_at,
            updated_at: created_at,
        });
        metas.push(AccountMeta {
            region,
            city,
            brand,
            size_factor,
            owner,
            source,
            core,
            contacts: (contacts_start, contacts.len()),
        });
    }
    (accounts, contacts, metas, opp_account)
}

fn generate_contact(
    g: &mut Gen,
    id: i64,
    account_id: i64,
    owner: UserId,
    (region, city, (a, b)): (usize, usize, (usize, usize)),
    created: i64,
) -> Contact {
    let who = g.person_name();
    let (title, buying_role, _) =
        CONTACT_TITLES[pick_index(&mut g.rng, &CONTACT_TITLES.map(|t| t.2))];
    let c = &REGIONS[region].cities[city];
    let mobile = g.next_mobile();
    let email = g.chance(0.7).then(|| {
        let mut e = String::with_capacity(40);
        e.push_str(SURNAMES[who.0].1);
        e.push_str(GIVEN_NAMES[who.1].1);
        e.push('@');
        e.push_str(BRAND_A[a].1);
        e.push_str(BRAND_B[b].1);
        e.push('-');
        e.push_str(c.abbr);
        e.push_str(".com.cn");
        e
    });
    let phone = g.chance(0.2).then(|| {
        let mut p = String::from(c.area);
        push_digits(&mut p, g.rng.gen_range(60_000_000..89_999_999), 8);
        p
    });
    let wechat = if g.chance(0.3) {
        Some(mobile.clone())
    } else if g.chance(0.2) {
        let mut w = String::from("wx_");
        w.push_str(SURNAMES[who.0].1);
        w.push_str(GIVEN_NAMES[who.1].1);
        push_digits(&mut w, g.rng.gen_range(0..10_000), 4);
        Some(w)
    } else {
        None
    };
    let at = g.dt(created);
    Contact {
        id,
        account_id: Some(account_id),
        name: Gen::full_name(who),
        mobile: Some(mobile),
        phone,
        email,
        wechat,
        title: Some(title.into()),
        buying_role: if g.chance(0.85) { buying_role } else { None },
        owner_id: Some(owner),
        custom: Default::default(),
        archived: false,
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

/// A contact of the account that existed at `t` (the first one always did).
fn contact_at(g: &mut Gen, meta: &AccountMeta, contacts: &[Contact], t: i64) -> i64 {
    let (start, end) = meta.contacts;
    let j = g.rng.gen_range(start..end);
    if contacts[j].created_at.unix_timestamp() <= t {
        contacts[j].id
    } else {
        contacts[start].id
    }
}

/// One opportunity, walked through its life by the real `create`, `apply` and `move_to`.
fn generate_opportunity(
    g: &mut Gen,
    pipeline: &Pipeline,
    id: i64,
    created: i64,
    meta: &AccountMeta,
    account_id: i64,
    contacts: &[Contact],
) -> (Opportunity, Vec<NewEvent>) {
    let mut owner = if g.chance(0.9) {
        meta.owner
    } else {
        g.other_rep(meta.owner)
    };
    let skill = REP_SKILL[rep_slot(owner).1];
    let input = opportunity_input(g, created, meta, account_id, contacts);
    let (mut opp, mut events) = opportunity::create(input, pipeline, &actor(owner), g.dt(created))
        .expect("valid demo opportunity");
    opp.id = id;

    let (mut plan, first_close) = plan_stage_walk(g, created, skill);
    plan_open_changes(g, &mut plan, created, first_close, owner);
    plan.sort_by_key(|&(at, _)| at);

    // Execute the plan through the application's own functions.
    for (at_ts, step) in plan {
        run_step(g, pipeline, &mut opp, &mut owner, at_ts, step, &mut events);
    }
    (opp, events)
}

/// What a new opportunity is created with: product, amount, close date, grade, source, title.
fn opportunity_input(
    g: &mut Gen,
    created: i64,
    meta: &AccountMeta,
    account_id: i64,
    contacts: &[Contact],
) -> OpportunityInput {
    let (product, median, _) = PRODUCTS[pick_index(&mut g.rng, &PRODUCTS.map(|p| p.2))];
    let yuan = log_normal(&mut g.rng, median * meta.size_factor, 0.55);
    let amount = amount_fen(yuan);
    let cycle =
        log_normal(&mut g.rng, 45.0 * (yuan / 300_000.0).powf(0.15), 0.5).clamp(14.0, 365.0);
    let close_date = add_days(date_of(created), cycle as i64);
    let grade = if amount > 100_000_000 {
        pick(
            &mut g.rng,
            &[(Grade::A, 50), (Grade::B, 40), (Grade::C, 10)],
        )
    } else {
        pick(
            &mut g.rng,
            &[(Grade::A, 15), (Grade::B, 50), (Grade::C, 35)],
        )
    };
    let source = match meta.source {
        Some(s) if g.chance(0.6) => s,
        _ => pick(&mut g.rng, &SOURCES),
    };
    let tags = if g.chance(0.15) {
        vec![OPPORTUNITY_TAGS[g.rng.gen_range(0..OPPORTUNITY_TAGS.len())].to_string()]
    } else {
        vec![]
    };
    let mut title = String::with_capacity(64);
    title.push_str(REGIONS[meta.region].cities[meta.city].short);
    title.push_str(BRAND_A[meta.brand.0].0);
    title.push_str(BRAND_B[meta.brand.1].0);
    title.push('-');
    title.push_str(product);
    title.push_str(TITLE_TAILS[g.rng.gen_range(0..TITLE_TAILS.len())]);
    let primary = contact_at(g, meta, contacts, created);

    OpportunityInput {
        title: Field::Value(title),
        account_id: Field::Value(account_id),
        primary_contact_id: Field::Value(primary),
        amount_minor: Field::Value(amount),
        close_date: Field::Value(close_date),
        grade: Field::Value(grade),
        source: Field::Value(source),
        tags: Field::Value(tags),
        next_step: Field::Value(NEXT_STEPS[0][g.rng.gen_range(0..2)].into()),
        next_step_date: Field::Value(add_days(date_of(created), g.rng.gen_range(2..=10))),
        ..Default::default()
    }
}

/// The stage walk: moves forward, back once, lost (and maybe reopened) or won; with the time
/// the deal first closed.
fn plan_stage_walk(g: &mut Gen, created: i64, skill: f64) -> (Vec<(i64, Step)>, Option<i64>) {
    let mut plan: Vec<(i64, Step)> = Vec::with_capacity(8);
    let mut stage = 0usize;
    let mut t = created;
    let mut backed = false;
    let mut reopened = false;
    let mut first_close = None;
    loop {
        let mut days = log_normal(&mut g.rng, MEDIAN_DAYS[stage], DURATION_SIGMA);
        if g.chance(STUCK_P) {
            days *= g.rng.gen_range(3.0..8.0);
        }
        let next = g.snap(t + ((days * DAY as f64) as i64).max(600));
        if next > g.now {
            break;
        }
        t = next;
        if !backed && stage >= 1 && g.chance(BACK_P) {
            backed = true;
            stage -= 1;
            plan.push((
                t,
                Step::Move {
                    to: stage_id(stage),
                    loss: None,
                },
            ));
            continue;
        }
        if g.chance((ADVANCE[stage] * skill).min(0.95)) {
            stage += 1;
            if stage == 4 {
                plan.push((
                    t,
                    Step::Move {
                        to: WON,
                        loss: None,
                    },
                ));
                first_close.get_or_insert(t);
                break;
            }
            plan.push((
                t,
                Step::Move {
                    to: stage_id(stage),
                    loss: None,
                },
            ));
        } else {
            let reason = pick_index(&mut g.rng, &LOSS_WEIGHTS[stage]);
            let note = g.chance(0.6).then(|| g.rng.gen_range(0..2));
            plan.push((
                t,
                Step::Move {
                    to: LOST,
                    loss: Some((reason, note)),
                },
            ));
            first_close.get_or_insert(t);
            if !reopened && g.chance(REOPEN_P) {
                let wait = g.rng.gen_range(15 * DAY..120 * DAY);
                let back = g.snap(t + wait);
                if back <= g.now {
                    reopened = true;
                    t = back;
                    plan.push((
                        t,
                        Step::Move {
                            to: stage_id(stage),
                            loss: None,
                        },
                    ));
                    continue;
                }
            }
            break;
        }
    }
    (plan, first_close)
}

/// Changes while the deal is open (before it first closes): amount, slipped close date, owner.
fn plan_open_changes(
    g: &mut Gen,
    plan: &mut Vec<(i64, Step)>,
    created: i64,
    first_close: Option<i64>,
    owner: UserId,
) {
    let open_end = first_close.unwrap_or(g.now);
    let span = open_end - created;
    if span > DAY {
        if g.chance(AMOUNT_CHANGE_P) {
            let offset = g.rng.gen_range(HOUR..span);
            let at = g.snap(created + offset);
            if at < open_end {
                plan.push((at, Step::Amount));
            }
        }
        if g.chance(SLIP_P) {
            let offset = g.rng.gen_range(span * 2 / 5..span);
            let at = g.snap(created + offset);
            if at < open_end {
                plan.push((at, Step::Slip(g.rng.gen_range(14..=60))));
            }
        }
        if g.chance(OWNER_CHANGE_P) {
            let offset = g.rng.gen_range(HOUR..span);
            let at = g.snap(created + offset);
            let to = g.other_rep(owner);
            if at < open_end {
                plan.push((at, Step::Owner(to)));
            }
        }
    }
}

/// One planned step, through `move_to` and `apply`.
fn run_step(
    g: &mut Gen,
    pipeline: &Pipeline,
    opp: &mut Opportunity,
    owner: &mut UserId,
    at_ts: i64,
    step: Step,
    events: &mut Vec<NewEvent>,
) {
    let at = g.dt(at_ts);
    match step {
        Step::Move { to, loss } => {
            let was_closed = opp.closed_at.is_some();
            let (checklist, actions_done) = gate_answers(pipeline, opp, to);
            let mv = MoveInput {
                stage_id: to,
                loss_reason: loss.map(|(r, _)| LOSS_REASONS[r].to_string()),
                loss_note: loss.and_then(|(r, n)| n.map(|n| LOSS_NOTES[r][n].to_string())),
                checklist,
                actions_done,
                ..Default::default()
            };
            // Reopening is the manager's call.
            let who = if was_closed {
                manager_of(*owner)
            } else {
                actor(*owner)
            };
            let ctx = MoveContext {
                actor: &who,
                now: at,
                loss_reasons: &g.loss_reasons,
                tasks_done: &[],
                custom: &Default::default(),
                custom_labels: &[],
                policies: &[],
                approved: true,
                task_language: Language::ZhCn,
                calendar: &g.calendar,
            };
            let moved = opportunity::move_to(opp, pipeline, mv, &ctx).expect("valid demo move");
            events.extend(moved.events);
            opp.version += 1;
            let mut edit = OpportunityInput::default();
            if to == WON || to == LOST {
                let day = date_of(at_ts);
                if opp.close_date != Some(day) {
                    edit.close_date = Field::Value(day);
                }
                edit.next_step = Field::Null;
                edit.next_step_date = Field::Null;
            } else {
                let k = (to - 1) as usize;
                edit.next_step = Field::Value(NEXT_STEPS[k][g.rng.gen_range(0..2)].into());
                edit.next_step_date =
                    Field::Value(add_days(date_of(at_ts), g.rng.gen_range(2..=10)));
                if was_closed {
                    edit.close_date =
                        Field::Value(add_days(date_of(at_ts), g.rng.gen_range(30..=90)));
                }
            }
            edit_as_owner(opp, edit, pipeline, *owner, at, events);
        }
        Step::Amount => {
            let current = opp.amount.amount_minor as f64 / 100.0;
            let factor = if opp.stage_id == 4 {
                g.rng.gen_range(0.85..0.97)
            } else {
                g.rng.gen_range(0.7..1.4)
            };
            let new = amount_fen(current * factor);
            if new != opp.amount.amount_minor {
                let edit = OpportunityInput {
                    amount_minor: Field::Value(new),
                    ..Default::default()
                };
                edit_as_owner(opp, edit, pipeline, *owner, at, events);
            }
        }
        Step::Slip(days) => {
            let from = opp
                .close_date
                .map_or(date_of(at_ts), |d| d.max(date_of(at_ts)));
            let edit = OpportunityInput {
                close_date: Field::Value(add_days(from, days)),
                ..Default::default()
            };
            edit_as_owner(opp, edit, pipeline, *owner, at, events);
        }
        Step::Owner(to) => {
            if to != *owner {
                let edit = OpportunityInput {
                    owner_id: Field::Value(to),
                    ..Default::default()
                };
                edit_as_owner(opp, edit, pipeline, *owner, at, events);
                *owner = to;
            }
        }
    }
}

/// An edit by the owner through `apply`, its events kept.
fn edit_as_owner(
    opp: &mut Opportunity,
    edit: OpportunityInput,
    pipeline: &Pipeline,
    owner: UserId,
    at: OffsetDateTime,
    events: &mut Vec<NewEvent>,
) {
    let evs = opportunity::apply(opp, edit, pipeline, &actor(owner), at).expect("valid demo edit");
    events.extend(evs);
    opp.version += 1;
}

/// The stage and owner of an opportunity at `t`, from its events.
fn state_at(events: &[OpportunityEvent], t: i64) -> (StageId, UserId) {
    let mut stage = 1;
    let mut owner = 0;
    for e in events {
        if e.at.unix_timestamp() > t {
            break;
        }
        match e.kind {
            EventKind::Created => {
                stage = e.to_stage_id.unwrap_or(stage);
                owner = e
                    .new_value
                    .as_ref()
                    .and_then(|v| v["owner_id"].as_i64())
                    .unwrap_or(owner);
            }
            EventKind::StageChanged => stage = e.to_stage_id.unwrap_or(stage),
            EventKind::OwnerChanged => {
                owner = e
                    .new_value
                    .as_ref()
                    .and_then(|v| v.as_i64())
                    .unwrap_or(owner)
            }
            _ => {}
        }
    }
    (stage, owner)
}

/// Activities and tasks for every opportunity (see the model above).
fn generate_follow_ups(
    g: &mut Gen,
    opportunities: &[Opportunity],
    events: &[OpportunityEvent],
    metas: &[AccountMeta],
    contacts: &[Contact],
) -> (Vec<Activity>, Vec<Task>) {
    let n = opportunities.len();
    let target_activities = scaled(n, ACTIVITIES_PER_OPP);
    let target_tasks = scaled(n, TASKS_PER_OPP);
    let now = g.now;
    let end_of = |o: &Opportunity| o.closed_at.map_or(now, |c| c.unix_timestamp());
    let mut life = 0.0;
    let mut open = 0usize;
    for o in opportunities {
        life += (end_of(o) - o.created_at.unix_timestamp()) as f64;
        open += usize::from(o.closed_at.is_none());
    }
    let per_second = if life > 0.0 {
        target_activities.saturating_sub(n) as f64 / life
    } else {
        0.0
    };
    let open_tasks = if open > 0 {
        (target_tasks as f64 / open as f64).min(0.85)
    } else {
        0.0
    };
    let closed = n - open;
    let closed_tasks = if closed > 0 {
        ((target_tasks as f64 - open_tasks * open as f64) / closed as f64).max(0.0)
    } else {
        0.0
    };
    let today = local_day(g.now);

    let mut activities = Vec::with_capacity(target_activities + target_activities / 50);
    let mut tasks = Vec::with_capacity(target_tasks + target_tasks / 20 + 8);
    let mut times: Vec<i64> = Vec::with_capacity(64);
    let mut cursor = 0;
    for o in opportunities {
        let first_event = cursor;
        while cursor < events.len() && events[cursor].opportunity_id == o.id {
            cursor += 1;
        }
        let evs = &events[first_event..cursor];
        let meta = &metas[(o.account_id - 1) as usize];
        let start = o.created_at.unix_timestamp();
        let end = end_of(o);
        let is_open = o.closed_at.is_none();
        let k = 1 + stochastic_round(&mut g.rng, per_second * (end - start) as f64);
        // Open deals in a quiet spell have had no customer-facing follow-up since `quiet`.
        let quiet = if is_open && g.chance(0.3) {
            let q = g.now - g.rng.gen_range(5..=20) * DAY;
            (q > start + DAY).then_some(q)
        } else {
            None
        };

        times.clear();
        times.push((start + g.rng.gen_range(300..2 * HOUR)).min(end));
        for _ in 1..k {
            let t = start + g.rng.gen_range(0..=end - start);
            times.push(g.snap_until(t, end));
        }
        if k >= 2 {
            if !is_open {
                times[k - 1] = end;
            } else if quiet.is_none() {
                let recent = (g.now - g.rng.gen_range(0..2 * DAY)).max(start);
                times[k - 1] = g.snap_until(recent, g.now);
            }
        }
        times.sort_unstable();

        for (j, &t) in times.iter().enumerate() {
            let (stage, owner) = state_at(evs, t);
            let last = j + 1 == times.len();
            let (kind, summary) = match stage {
                WON => WON_ACTIVITY,
                LOST if !is_open && t == end => LOST_ACTIVITY,
                LOST => AFTER_LOSS_ACTIVITY,
                _ => {
                    let table = STAGE_ACTIVITIES[(stage - 1) as usize];
                    let mut entry = table[g.rng.gen_range(0..table.len())];
                    let quiet_now = quiet.is_some_and(|q| t >= q);
                    if quiet_now && entry.0.is_customer_facing() {
                        entry = QUIET_ACTIVITIES[g.rng.gen_range(0..QUIET_ACTIVITIES.len())];
                    } else if is_open && quiet.is_none() && last && !entry.0.is_customer_facing() {
                        entry = table[0];
                    }
                    entry
                }
            };
            let contact_id = g.chance(0.6).then(|| contact_at(g, meta, contacts, t));
            let outcome = (kind.is_customer_facing() && g.chance(0.3))
                .then(|| OUTCOMES[g.rng.gen_range(0..OUTCOMES.len())].to_string());
            let next_step = (stage <= 4 && g.chance(0.2))
                .then(|| NEXT_STEPS[(stage - 1) as usize][g.rng.gen_range(0..2)].to_string());
            let occurred_at = g.dt(t);
            let delay = g.rng.gen_range(60..2 * HOUR);
            let logged = g.dt((t + delay).min(g.now).max(t));
            activities.push(Activity {
                id: activities.len() as i64 + 1,
                kind,
                occurred_at,
                summary: summary.to_string(),
                outcome,
                next_step,
                account_id: Some(o.account_id),
                contact_id,
                opportunity_id: Some(o.id),
                lead_id: None,
                author_id: owner,
                customer_facing: kind.is_customer_facing(),
                archived: false,
                version: 1,
                created_at: logged,
                updated_at: logged,
            });
        }

        // Tasks.
        if is_open {
            for _ in 0..stochastic_round(&mut g.rng, open_tasks) {
                let entered = o.stage_entered_at.unix_timestamp();
                let due = today + g.rng.gen_range(-10..=14);
                let planned = day_start(due - g.rng.gen_range(1..=7)) + 9 * HOUR;
                let created = g.snap_until(planned.clamp(entered, g.now), g.now);
                let stage = (o.stage_id - 1) as usize;
                let at = g.dt(created);
                tasks.push(Task {
                    id: tasks.len() as i64 + 1,
                    title: TASK_TITLES[stage][g.rng.gen_range(0..3)].to_string(),
                    due_date: Some(date_of_day(due)),
                    assignee_id: o.owner_id,
                    done: false,
                    done_at: None,
                    record_kind: Some(RecordKind::Opportunity),
                    record_id: Some(o.id),
                    action_key: None,
                    archived: false,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                });
            }
        } else {
            for _ in 0..stochastic_round(&mut g.rng, closed_tasks) {
                let created = start + g.rng.gen_range(0..(end - start).max(1));
                let created = g.snap_until(created, end);
                let (stage, owner) = state_at(evs, created);
                let stage = (stage.clamp(1, 4) - 1) as usize;
                let done = (created + g.rng.gen_range(HOUR..4 * DAY))
                    .min(end)
                    .max(created);
                let created_at = g.dt(created);
                let done_at = g.dt(done);
                tasks.push(Task {
                    id: tasks.len() as i64 + 1,
                    title: TASK_TITLES[stage][g.rng.gen_range(0..3)].to_string(),
                    due_date: Some(date_of_day(local_day(created) + g.rng.gen_range(1..=7))),
                    assignee_id: owner,
                    done: true,
                    done_at: Some(done_at),
                    record_kind: Some(RecordKind::Opportunity),
                    record_id: Some(o.id),
                    action_key: None,
                    archived: false,
                    version: 2,
                    created_at,
                    updated_at: done_at,
                });
            }
        }
    }
    (activities, tasks)
}

/// Leads, ids in creation order.
fn generate_leads(
    g: &mut Gen,
    seed: u64,
    n: usize,
    accounts: &[Account],
    metas: &[AccountMeta],
    contacts: &[Contact],
) -> Vec<Lead> {
    let count = scaled(n, LEADS_PER_OPP);
    let mut created: Vec<i64> = (0..count).map(|_| g.created_ts()).collect();
    created.sort_unstable();
    let mut leads = Vec::with_capacity(count);
    // Decides qualified against disqualified by the known truth, apart from the main stream.
    let mut truth = ChaCha8Rng::seed_from_u64(seed ^ LEAD_TRUTH_SALT);
    for (i, &t) in created.iter().enumerate() {
        let pooled = g.chance(0.3);
        let status = if pooled {
            pick(
                &mut g.rng,
                &[(LeadStatus::New, 70), (LeadStatus::Disqualified, 30)],
            )
        } else if g.now - t > 60 * DAY {
            pick(
                &mut g.rng,
                &[
                    (LeadStatus::Qualified, 45),
                    (LeadStatus::Disqualified, 35),
                    (LeadStatus::Working, 12),
                    (LeadStatus::New, 8),
                ],
            )
        } else {
            pick(
                &mut g.rng,
                &[
                    (LeadStatus::New, 40),
                    (LeadStatus::Working, 40),
                    (LeadStatus::Qualified, 12),
                    (LeadStatus::Disqualified, 8),
                ],
            )
        };
        let existing = (!accounts.is_empty()).then(|| g.rng.gen_range(0..accounts.len()));
        let mut who = Some(g.person_name());
        let mut contact_name = None;
        let mut mobile = None;
        // Company: a converted lead names its account; a few new ones a short form of an
        // account's name, or come back as an existing contact: duplicates to detect.
        let (company, region, industry, city, brand) = match existing {
            Some(a)
                if (status == LeadStatus::Qualified && g.chance(0.5))
                    || (status == LeadStatus::New && g.chance(0.1)) =>
            {
                let m = &metas[a];
                let name = if status == LeadStatus::New {
                    if g.chance(0.3) {
                        let c = &contacts[g.rng.gen_range(m.contacts.0..m.contacts.1)];
                        contact_name = Some(c.name.clone());
                        mobile = c.mobile.clone();
                        who = None;
                        accounts[a].name.clone()
                    } else {
                        accounts[a].name[m.core.0..m.core.1].to_string()
                    }
                } else {
                    accounts[a].name.clone()
                };
                let industry = INDUSTRIES
                    .iter()
                    .position(|i| Some(i.name) == accounts[a].industry.as_deref())
                    .unwrap_or(0);
                (name, m.region, industry, m.city, m.brand)
            }
            _ => {
                let region = g.region();
                let industry = g.industry();
                let (name, city, brand, _) = g.company_name(region, industry);
                (name, region, industry, city, brand)
            }
        };
        if let Some(who) = who {
            contact_name = Some(Gen::full_name(who));
            if g.chance(0.85) {
                mobile = Some(g.next_mobile());
            }
        }
        let email = match who {
            Some(who) if g.chance(0.4) => {
                let c = &REGIONS[region].cities[city];
                let mut e = String::with_capacity(40);
                e.push_str(SURNAMES[who.0].1);
                e.push_str(GIVEN_NAMES[who.1].1);
                e.push('@');
                e.push_str(BRAND_A[brand.0].1);
                e.push_str(BRAND_B[brand.1].1);
                e.push('-');
                e.push_str(c.abbr);
                e.push_str(".com.cn");
                Some(e)
            }
            _ => None,
        };
        let wechat = if g.chance(0.2) { mobile.clone() } else { None };
        let title = CONTACT_TITLES[pick_index(&mut g.rng, &CONTACT_TITLES.map(|t| t.2))].0;
        let notes = g
            .chance(0.5)
            .then(|| LEAD_NOTES[g.rng.gen_range(0..LEAD_NOTES.len())].to_string());
        let owner_id = (!pooled).then(|| g.rep_of(region));
        let worked = status != LeadStatus::New;
        let updated = if worked {
            (t + g.rng.gen_range(HOUR..20 * DAY)).min(g.now)
        } else {
            t
        };
        let source = pick(&mut g.rng, &SOURCES);
        let status =
            if !pooled && matches!(status, LeadStatus::Qualified | LeadStatus::Disqualified) {
                let log_odds = lead_truth_log_odds(
                    Some(source),
                    INDUSTRIES[industry].name,
                    title,
                    email.is_some(),
                );
                if truth.gen::<f64>() < 1.0 / (1.0 + (-log_odds).exp()) {
                    LeadStatus::Qualified
                } else {
                    LeadStatus::Disqualified
                }
            } else {
                status
            };
        leads.push(Lead {
            id: i as i64 + 1,
            source: Some(source),
            status,
            company_name: Some(company),
            contact_name,
            mobile,
            email,
            wechat,
            title: Some(title.into()),
            region: Some(REGIONS[region].name.into()),
            industry: Some(INDUSTRIES[industry].name.into()),
            notes,
            owner_id,
            pool_since: owner_id.is_none().then(|| g.dt(t)),
            score: None,
            grade: None,
            custom: Default::default(),
            archived: false,
            version: if worked { 2 } else { 1 },
            created_at: g.dt(t),
            updated_at: g.dt(updated),
        });
    }
    leads
}

/// Follow-ups on the leads reps own, after the opportunities' (ids go on from theirs): a
/// worked or closed lead had its first touch mostly within hours — one in eight only after
/// the 48-hour SLA — and up to three more before it was last updated; a new lead has been
/// called about half the time. Pool leads have none.
fn lead_follow_ups(seed: u64, now: i64, leads: &[Lead], activities: &mut Vec<Activity>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ LEAD_FOLLOW_UP_SALT);
    let at = |ts: i64| OffsetDateTime::from_unix_timestamp(ts).expect("demo times are valid");
    for l in leads {
        let Some(owner) = l.owner_id else { continue };
        let created = l.created_at.unix_timestamp();
        let worked = l.status != LeadStatus::New;
        if !worked && rng.gen_bool(0.5) {
            continue;
        }
        let first_delay = if rng.gen_bool(0.875) {
            rng.gen_range(10 * 60..30 * HOUR)
        } else {
            rng.gen_range(49 * HOUR..6 * DAY)
        };
        let first = created + first_delay;
        if first > now {
            continue;
        }
        let last = l.updated_at.unix_timestamp().max(first);
        let more = if worked { rng.gen_range(0..=3) } else { 0 };
        let mut times = vec![first];
        times.extend((0..more).map(|_| rng.gen_range(first..=last)));
        times.sort_unstable();
        for (k, t) in times.into_iter().enumerate() {
            let (kind, summary) = if k == 0 {
                LEAD_ACTIVITIES[0]
            } else {
                LEAD_ACTIVITIES[rng.gen_range(1..LEAD_ACTIVITIES.len())]
            };
            let logged = at((t + rng.gen_range(60..HOUR)).min(now).max(t));
            activities.push(Activity {
                id: activities.len() as i64 + 1,
                kind,
                occurred_at: at(t),
                summary: summary.to_string(),
                outcome: None,
                next_step: None,
                account_id: None,
                contact_id: None,
                opportunity_id: None,
                lead_id: Some(l.id),
                author_id: owner,
                customer_facing: kind.is_customer_facing(),
                archived: false,
                version: 1,
                created_at: logged,
                updated_at: logged,
            });
        }
    }
}

/// Some accounts that never had a deal and are older than half a year went back to the
/// pool (公海) when their rep gave them up, for a colleague of their region to claim.
fn pool_idle_accounts(
    seed: u64,
    now: i64,
    accounts: &mut [Account],
    opportunities: &[Opportunity],
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ACCOUNT_POOL_SALT);
    let with_deals: HashSet<i64> = opportunities.iter().map(|o| o.account_id).collect();
    for a in accounts.iter_mut() {
        let created = a.created_at.unix_timestamp();
        if with_deals.contains(&a.id) || now - created < 180 * DAY || !rng.gen_bool(0.4) {
            continue;
        }
        let since = rng.gen_range(created + 90 * DAY..now - DAY);
        a.owner_id = None;
        a.pool_since = OffsetDateTime::from_unix_timestamp(since).ok();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use serde_json::json;
    use time::macros::datetime;
    use time::Duration;

    use super::*;
    use crate::model::{ForecastCategory, StageKind};

    const NOW: OffsetDateTime = datetime!(2026-03-02 01:30 UTC);

    fn cfg(n: usize) -> DemoConfig {
        DemoConfig {
            seed: 7,
            opportunities: n,
            now: NOW,
        }
    }

    /// The events of each opportunity, by opportunity id.
    fn histories(d: &DemoData) -> HashMap<i64, Vec<&OpportunityEvent>> {
        let mut h: HashMap<i64, Vec<&OpportunityEvent>> = HashMap::new();
        for e in &d.events {
            h.entry(e.opportunity_id).or_default().push(e);
        }
        h
    }

    #[test]
    fn deterministic_for_a_seed_and_now() {
        let a = generate(&cfg(500));
        let b = generate(&cfg(500));
        assert_eq!(a, b);
        let c = generate(&DemoConfig {
            seed: 8,
            ..cfg(500)
        });
        assert_ne!(a.opportunities, c.opportunities);
        assert_eq!(a.users, c.users);
    }

    #[test]
    fn standard_config() {
        let c = DemoConfig::standard(NOW);
        assert_eq!((c.seed, c.opportunities, c.now), (20_260_101, 8_000, NOW));
    }

    #[test]
    fn organisation_and_pipeline() {
        let d = generate(&cfg(50));
        let teams: Vec<_> = d
            .teams
            .iter()
            .map(|t| (t.id, t.name.as_str(), t.parent_id))
            .collect();
        assert_eq!(
            teams,
            [
                (1, "总公司", None),
                (2, "华东大区", Some(1)),
                (3, "华南大区", Some(1)),
                (4, "华北大区", Some(1)),
            ]
        );
        assert_eq!(d.users.len(), 17);
        for (i, u) in d.users.iter().enumerate() {
            assert_eq!(u.user.id, i as i64 + 1);
            assert!(crate::records::validate_login(&u.user.login).is_ok());
            assert!(crate::records::validate_password(u.password).is_ok());
            assert_eq!(u.user.language, Some(Language::ZhCn));
        }
        let find = |login: &str| &d.users.iter().find(|u| u.user.login == login).unwrap().user;
        assert_eq!(
            (find("admin").role, find("admin").team_id),
            (Role::Admin, None)
        );
        assert_eq!(find("director").team_id, Some(1));
        assert_eq!(
            (find("mgr.south").role, find("mgr.south").team_id),
            (Role::Manager, Some(3))
        );
        assert_eq!(
            (find("rep.north4").role, find("rep.north4").team_id),
            (Role::Rep, Some(4))
        );
        assert_eq!(
            d.users.iter().filter(|u| u.user.role == Role::Rep).count(),
            12
        );
        let on_leave: Vec<_> = d
            .users
            .iter()
            .filter(|u| !u.user.leaves.is_empty())
            .collect();
        assert_eq!(on_leave.len(), 1);
        assert!(on_leave[0]
            .user
            .on_leave(NOW.to_offset(UtcOffset::from_hms(8, 0, 0).unwrap()).date()));

        let p = &d.pipeline;
        assert_eq!(p.id, 1);
        let stages: Vec<_> = p
            .stages
            .iter()
            .map(|s| (s.id, s.position, s.kind))
            .collect();
        assert_eq!(
            stages,
            [
                (1, 0, StageKind::Open),
                (2, 1, StageKind::Open),
                (3, 2, StageKind::Open),
                (4, 3, StageKind::Open),
                (5, 4, StageKind::Won),
                (6, 5, StageKind::Lost),
            ]
        );
    }

    #[test]
    fn volumes_scale_and_ids_and_links_are_consistent() {
        for n in [0, 1, 400, 4000] {
            let d = generate(&cfg(n));
            assert_eq!(d.opportunities.len(), n);
            assert_eq!(d.accounts.len(), scaled(n, 0.375).max(usize::from(n > 0)));
            assert_eq!(d.contacts.len(), scaled(n, 0.625).max(d.accounts.len()));
            assert_eq!(d.leads.len(), scaled(n, 0.5));
            if n >= 400 {
                let on_deals = d.activities.iter().filter(|a| a.lead_id.is_none()).count();
                let acts = on_deals as f64 / (7.5 * n as f64);
                let tasks = d.tasks.len() as f64 / (0.3 * n as f64);
                assert!((0.9..1.1).contains(&acts), "activities {acts}");
                assert!((0.85..1.15).contains(&tasks), "tasks {tasks}");
            }
            let ids = |v: Vec<i64>| v.iter().enumerate().all(|(i, &id)| id == i as i64 + 1);
            assert!(ids(d.accounts.iter().map(|x| x.id).collect()));
            assert!(ids(d.contacts.iter().map(|x| x.id).collect()));
            assert!(ids(d.leads.iter().map(|x| x.id).collect()));
            assert!(ids(d.opportunities.iter().map(|x| x.id).collect()));
            assert!(ids(d.events.iter().map(|x| x.id).collect()));
            assert!(ids(d.activities.iter().map(|x| x.id).collect()));
            assert!(ids(d.tasks.iter().map(|x| x.id).collect()));

            let reps: HashMap<i64, Option<TeamId>> = d
                .users
                .iter()
                .filter(|u| u.user.role == Role::Rep)
                .map(|u| (u.user.id, u.user.team_id))
                .collect();
            let team_of_region = |r: &str| match r {
                "华东" => Some(2),
                "华南" => Some(3),
                "华北" => Some(4),
                _ => None,
            };
            // Accounts in the pool had an owner of their region before.
            for a in d.accounts.iter().filter(|a| a.pool_since.is_none()) {
                let owner = a.owner_id.unwrap();
                assert_eq!(reps[&owner], team_of_region(a.region.as_deref().unwrap()));
                assert!(a.created_at <= NOW);
            }
            for c in &d.contacts {
                let a = &d.accounts[(c.account_id.unwrap() - 1) as usize];
                assert!(c.created_at >= a.created_at && c.created_at <= NOW);
                if a.pool_since.is_none() {
                    assert_eq!(c.owner_id, a.owner_id);
                }
            }
            for o in &d.opportunities {
                let a = &d.accounts[(o.account_id - 1) as usize];
                assert!(a.created_at <= o.created_at);
                let c = &d.contacts[(o.primary_contact_id.unwrap() - 1) as usize];
                assert_eq!(c.account_id, Some(a.id));
                assert!(c.created_at <= o.created_at);
                assert!(o.created_at >= NOW - time::Duration::days(731) && o.created_at <= NOW);
            }
            // Creation order gives the ids.
            assert!(d
                .opportunities
                .windows(2)
                .all(|w| w[0].created_at <= w[1].created_at));
            assert!(d
                .accounts
                .windows(2)
                .all(|w| w[0].created_at <= w[1].created_at));
            assert!(d
                .leads
                .windows(2)
                .all(|w| w[0].created_at <= w[1].created_at));
        }
    }

    #[test]
    fn every_history_replays_to_the_final_state() {
        let d = generate(&cfg(3000));
        let h = histories(&d);
        let mut closed = 0;
        for o in &d.opportunities {
            let evs = &h[&o.id];
            assert_eq!(evs[0].kind, EventKind::Created, "{}", o.id);
            assert_eq!(evs[0].to_stage_id, Some(1));
            assert!(evs.iter().skip(1).all(|e| e.kind != EventKind::Created));
            assert_eq!(evs[0].at, o.created_at);
            let created = evs[0].new_value.as_ref().unwrap();
            let mut stage = 1;
            let mut amount = created["amount"]["amount_minor"].as_i64().unwrap();
            let mut close_date = created["close_date"].clone();
            let mut probability = created["probability"].as_i64().unwrap();
            let mut forecast = created["forecast_category"].clone();
            let mut owner = created["owner_id"].as_i64().unwrap();
            let mut prev = o.created_at;
            let mut stage_changes = 0;
            for (i, e) in evs.iter().enumerate() {
                assert!(e.at >= prev && e.at <= NOW, "{}: times", o.id);
                prev = e.at;
                // The owner acts, but a reopen (and what its move changes) is the manager's.
                let reopening = evs
                    .iter()
                    .any(|r| r.at == e.at && r.kind == EventKind::Reopened);
                assert!(
                    e.actor_id == owner || (reopening && e.actor_id == manager_of(owner).user_id),
                    "{}: actor is the owner",
                    o.id
                );
                match e.kind {
                    EventKind::StageChanged => {
                        assert_eq!(e.from_stage_id, Some(stage));
                        stage = e.to_stage_id.unwrap();
                        stage_changes += 1;
                        let next = evs.get(i + 1).map(|n| n.kind);
                        match stage {
                            WON => assert_eq!(next, Some(EventKind::Won)),
                            LOST => assert_eq!(next, Some(EventKind::Lost)),
                            _ => {}
                        }
                    }
                    EventKind::AmountChanged => {
                        assert_eq!(e.old_value.as_ref().unwrap()["amount_minor"], json!(amount));
                        amount = e.new_value.as_ref().unwrap()["amount_minor"]
                            .as_i64()
                            .unwrap();
                    }
                    EventKind::CloseDateChanged => {
                        assert_eq!(e.old_value.as_ref().unwrap(), &close_date);
                        close_date = e.new_value.clone().unwrap();
                    }
                    EventKind::ProbabilityChanged => {
                        assert_eq!(e.old_value, Some(json!(probability)));
                        probability = e.new_value.as_ref().unwrap().as_i64().unwrap();
                    }
                    EventKind::ForecastCategoryChanged => {
                        assert_eq!(e.old_value.as_ref(), Some(&forecast));
                        forecast = e.new_value.clone().unwrap();
                    }
                    EventKind::OwnerChanged => {
                        assert_eq!(e.old_value, Some(json!(owner)));
                        owner = e.new_value.as_ref().unwrap().as_i64().unwrap();
                    }
                    EventKind::Reopened => {
                        assert_eq!(evs[i - 1].from_stage_id, Some(LOST));
                    }
                    _ => {}
                }
            }
            assert_eq!(stage, o.stage_id, "{}: replayed stage", o.id);
            assert_eq!(amount, o.amount.amount_minor);
            assert_eq!(close_date, json!(o.close_date.map(|d| d.to_string())));
            assert_eq!(probability, o.probability as i64);
            assert_eq!(forecast, json!(o.forecast_category));
            assert_eq!(owner, o.owner_id);
            assert!(!o.probability_overridden);
            assert!(o.updated_at >= prev && o.updated_at <= NOW);
            assert!(o.version > stage_changes);
            let stage_kind = d.pipeline.stage(o.stage_id).unwrap().kind;
            let last_move = evs.iter().rev().find(|e| e.kind == EventKind::StageChanged);
            assert_eq!(o.stage_entered_at, last_move.map_or(o.created_at, |e| e.at));
            match stage_kind {
                StageKind::Open => {
                    assert_eq!(o.closed_at, None);
                    assert!(o.next_step.is_some() && o.next_step_date.is_some());
                    assert_eq!((o.loss_reason.as_ref(), o.loss_note.as_ref()), (None, None));
                }
                StageKind::Won | StageKind::Lost => {
                    closed += 1;
                    let at = o.closed_at.expect("closed deals have closed_at");
                    assert_eq!(at, last_move.unwrap().at);
                    let local = at.to_offset(UtcOffset::from_hms(8, 0, 0).unwrap()).date();
                    assert_eq!(o.close_date, Some(local), "closes on the closing day");
                    assert_eq!((o.next_step.as_ref(), o.next_step_date), (None, None));
                    let kind = if stage_kind == StageKind::Won {
                        EventKind::Won
                    } else {
                        EventKind::Lost
                    };
                    let last_close = evs
                        .iter()
                        .rev()
                        .find(|e| matches!(e.kind, EventKind::Won | EventKind::Lost))
                        .unwrap();
                    assert_eq!(last_close.kind, kind);
                    if stage_kind == StageKind::Lost {
                        let reason = o.loss_reason.as_deref().expect("a loss reason");
                        assert!(LOSS_REASONS.contains(&reason));
                        assert_eq!(
                            last_close.new_value,
                            Some(
                                json!({"loss_reason": reason, "loss_note": o.loss_note, "competitor": null})
                            )
                        );
                    } else {
                        assert_eq!(o.loss_reason, None);
                        assert_eq!(o.forecast_category, ForecastCategory::Closed);
                    }
                }
            }
        }
        assert!(closed > 2000 && closed < 3000, "{closed} closed");
        // The rarer moves happen.
        let count = |k: EventKind| d.events.iter().filter(|e| e.kind == k).count();
        assert!(count(EventKind::Reopened) > 0);
        assert!(count(EventKind::OwnerChanged) > 30);
        assert!(count(EventKind::AmountChanged) > 200);
        let backwards = d
            .events
            .iter()
            .filter(|e| {
                e.kind == EventKind::StageChanged
                    && e.to_stage_id < e.from_stage_id
                    && e.from_stage_id != Some(LOST)
                    && e.from_stage_id != Some(WON)
            })
            .count();
        assert!(backwards > 20, "{backwards} backward moves");
    }

    #[test]
    fn follow_ups_and_tasks_fit_their_deals() {
        let d = generate(&cfg(2000));
        let mut last_facing: HashMap<i64, OffsetDateTime> = HashMap::new();
        for a in d.activities.iter().filter(|a| a.lead_id.is_none()) {
            let o = &d.opportunities[(a.opportunity_id.unwrap() - 1) as usize];
            assert_eq!(a.account_id, Some(o.account_id));
            assert_eq!(a.customer_facing, a.kind.is_customer_facing());
            assert!(a.occurred_at >= o.created_at);
            assert!(a.occurred_at <= o.closed_at.unwrap_or(NOW));
            assert!(a.created_at >= a.occurred_at && a.created_at <= NOW);
            assert!(!a.summary.is_empty());
            if let Some(c) = a.contact_id {
                assert_eq!(d.contacts[(c - 1) as usize].account_id, Some(o.account_id));
            }
            if a.customer_facing {
                let e = last_facing.entry(o.id).or_insert(a.occurred_at);
                *e = (*e).max(a.occurred_at);
            }
        }
        // Some open deals have gone quiet for 5+ days, most were touched in the last 2.
        let open: Vec<_> = d
            .opportunities
            .iter()
            .filter(|o| o.closed_at.is_none() && o.created_at < NOW - time::Duration::days(25))
            .collect();
        let quiet = open
            .iter()
            .filter(|o| {
                last_facing
                    .get(&o.id)
                    .is_none_or(|&t| t < NOW - time::Duration::days(5))
            })
            .count();
        let fresh = open
            .iter()
            .filter(|o| {
                last_facing
                    .get(&o.id)
                    .is_some_and(|&t| t >= NOW - time::Duration::days(2))
            })
            .count();
        assert!(
            quiet * 10 > open.len() && fresh * 2 > open.len(),
            "{quiet} quiet, {fresh} fresh of {}",
            open.len()
        );

        let mut overdue = 0;
        let today = NOW.to_offset(UtcOffset::from_hms(8, 0, 0).unwrap()).date();
        for t in &d.tasks {
            let o = &d.opportunities[(t.record_id.unwrap() - 1) as usize];
            assert_eq!(t.record_kind, Some(RecordKind::Opportunity));
            assert!(t.created_at >= o.created_at && t.created_at <= NOW);
            if t.done {
                let done = t.done_at.unwrap();
                assert!(
                    o.closed_at.is_some() && done >= t.created_at && done <= o.closed_at.unwrap()
                );
            } else {
                assert!(o.closed_at.is_none());
                assert_eq!(t.assignee_id, o.owner_id);
                overdue += usize::from(t.due_date.unwrap() < today);
            }
        }
        assert!(overdue > 0);
    }

    #[test]
    fn identifiers_are_valid_and_unique() {
        let d = generate(&cfg(4000));
        let mut codes = HashSet::new();
        let mut with_code = 0;
        for a in &d.accounts {
            if let Some(c) = &a.credit_code {
                with_code += 1;
                assert_eq!(crate::credit_code::validate(c).as_ref(), Ok(c), "{c}");
                assert!(codes.insert(c.clone()), "duplicate credit code {c}");
            }
        }
        assert!(with_code > d.accounts.len() / 2);
        let names: HashSet<_> = d.accounts.iter().map(|a| &a.name).collect();
        assert_eq!(names.len(), d.accounts.len());
        assert!(d.accounts.iter().all(|a| a.name.ends_with("公司")));

        let mut mobiles = HashSet::new();
        let people = d
            .users
            .iter()
            .map(|u| (&u.user.mobile, &u.user.email))
            .chain(d.contacts.iter().map(|c| (&c.mobile, &c.email)));
        for (m, e) in people {
            let m = m.as_ref().unwrap();
            assert_eq!(
                crate::input::phone("mobile", m.clone(), true).as_ref(),
                Ok(&Some(m.clone()))
            );
            assert!(mobiles.insert(m.clone()), "duplicate mobile {m}");
            if let Some(e) = e {
                assert_eq!(crate::input::email("email", e.clone()), Ok(Some(e.clone())));
            }
        }
        for c in &d.contacts {
            if let Some(p) = &c.phone {
                assert!(crate::input::phone("phone", p.clone(), false).is_ok());
            }
        }
        for l in &d.leads {
            if let Some(m) = &l.mobile {
                assert!(crate::input::phone("mobile", m.clone(), true).is_ok());
            }
            if let Some(e) = &l.email {
                assert!(crate::input::email("email", e.clone()).is_ok());
            }
        }
        for o in &d.opportunities {
            assert!((2_000_000..=2_000_000_000).contains(&o.amount.amount_minor));
            assert_eq!(o.amount.amount_minor % 100_000, 0);
            assert_eq!(o.amount.currency, "CNY");
        }
        for e in d
            .events
            .iter()
            .filter(|e| e.kind == EventKind::AmountChanged)
        {
            let v = e.new_value.as_ref().unwrap()["amount_minor"]
                .as_i64()
                .unwrap();
            assert!((2_000_000..=2_000_000_000).contains(&v));
        }
    }

    #[test]
    fn leads_mix_statuses_and_a_public_pool() {
        let d = generate(&cfg(4000));
        let pooled = d.leads.iter().filter(|l| l.owner_id.is_none()).count() as f64;
        let share = pooled / d.leads.len() as f64;
        assert!((0.25..0.35).contains(&share), "{share}");
        for s in LeadStatus::ALL {
            assert!(d.leads.iter().any(|l| l.status == *s), "{s}");
        }
        let account_names: HashSet<_> = d.accounts.iter().map(|a| a.name.as_str()).collect();
        assert!(d
            .leads
            .iter()
            .any(|l| account_names.contains(l.company_name.as_deref().unwrap())));
    }

    #[test]
    fn reps_follow_up_their_leads_and_idle_accounts_wait_in_the_pool() {
        let d = generate(&cfg(4000));
        let leads: HashMap<_, _> = d.leads.iter().map(|l| (l.id, l)).collect();
        let mut first: HashMap<i64, OffsetDateTime> = HashMap::new();
        for a in d.activities.iter().filter(|a| a.lead_id.is_some()) {
            let lead = leads[&a.lead_id.unwrap()];
            assert_eq!(Some(a.author_id), lead.owner_id, "the owner follows up");
            assert!(a.occurred_at >= lead.created_at && a.occurred_at <= cfg(4000).now);
            assert!(a.opportunity_id.is_none() && a.account_id.is_none());
            let f = first.entry(lead.id).or_insert(a.occurred_at);
            *f = (*f).min(a.occurred_at);
        }
        let owned_worked = d
            .leads
            .iter()
            .filter(|l| l.owner_id.is_some() && l.status != LeadStatus::New)
            .count();
        assert!(
            first.len() as f64 > 0.8 * owned_worked as f64,
            "{} of {owned_worked}",
            first.len()
        );
        let late = first
            .iter()
            .filter(|(id, at)| **at - leads[id].created_at > Duration::hours(48))
            .count() as f64
            / first.len() as f64;
        assert!((0.05..0.25).contains(&late), "{late} past the SLA");
        let ids: Vec<i64> = d.activities.iter().map(|a| a.id).collect();
        assert!(ids.iter().enumerate().all(|(i, id)| *id == i as i64 + 1));

        let with_deals: HashSet<_> = d.opportunities.iter().map(|o| o.account_id).collect();
        let pooled: Vec<_> = d.accounts.iter().filter(|a| a.owner_id.is_none()).collect();
        assert!(pooled.len() >= 20, "{} pool accounts", pooled.len());
        for a in pooled {
            assert!(
                !with_deals.contains(&a.id),
                "an account with deals keeps its owner"
            );
            assert!(a.pool_since.is_some_and(|s| s > a.created_at));
        }
    }

    #[test]
    fn proposal_is_the_bottleneck() {
        let d = generate(&cfg(4000));
        let mut left: HashSet<i64> = HashSet::new();
        let mut advanced: HashSet<i64> = HashSet::new();
        for e in &d.events {
            if e.kind == EventKind::StageChanged && e.from_stage_id == Some(3) {
                left.insert(e.opportunity_id);
                if e.to_stage_id == Some(4) {
                    advanced.insert(e.opportunity_id);
                }
            }
        }
        let rate = advanced.len() as f64 / left.len() as f64;
        assert!(left.len() > 800, "{} left proposal", left.len());
        assert!(
            (0.32..=0.48).contains(&rate),
            "proposal → negotiation {rate}"
        );
    }

    #[test]
    fn creation_follows_the_seasons() {
        let d = generate(&cfg(8000));
        let cst = UtcOffset::from_hms(8, 0, 0).unwrap();
        let mut per_month = [0usize; 12];
        for o in &d.opportunities {
            per_month[o.created_at.to_offset(cst).month() as usize - 1] += 1;
        }
        let days = [
            31.0, 28.25, 31.0, 30.0, 31.0, 30.0, 31.0, 31.0, 30.0, 31.0, 30.0, 31.0,
        ];
        let rate = |m: usize| per_month[m] as f64 / days[m];
        let spring = (2..6).map(rate).sum::<f64>() / 4.0;
        assert!(
            rate(1) < 0.6 * spring,
            "February {} vs spring {spring}",
            rate(1)
        );
        assert!(rate(10) > rate(7), "November vs August");
    }
}
