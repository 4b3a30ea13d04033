//! The install dialog's form: the fields of a control-plane revision or a gateway as typed,
//! their checks (the form's own at once, those against the cluster once its facts are read)
//! and the plan they make. Pure: the facts come from the app's runner, which reads them when
//! the dialog opens; planning reads only them.

use crate::ops::install::{
    GatewayForm, GatewayKind, InstallFacts, InstallKind, Installable, PROFILES, PlanOptions,
    Planned, Problem, RevisionForm, ServiceType, parse_key_values, plan_gateway, plan_revision,
};

use super::action::TaskId;

/// One field of a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldId {
    Revision,
    Profile,
    Hub,
    Tag,
    NodeSelector,
    HpaMin,
    HpaMax,
    Namespace,
    Name,
    GatewayRevision,
    Kind,
    Labels,
    ServiceType,
    HttpNodePort,
    HttpsNodePort,
    Replicas,
}

impl FieldId {
    pub fn label(self) -> &'static str {
        match self {
            FieldId::Revision | FieldId::GatewayRevision => "revision",
            FieldId::Profile => "profile",
            FieldId::Hub => "hub",
            FieldId::Tag => "version (tag)",
            FieldId::NodeSelector => "node selector",
            FieldId::HpaMin => "HPA min",
            FieldId::HpaMax => "HPA max",
            FieldId::Namespace => "namespace",
            FieldId::Name => "name",
            FieldId::Kind => "kind",
            FieldId::Labels => "labels",
            FieldId::ServiceType => "service type",
            FieldId::HttpNodePort => "http2 node port",
            FieldId::HttpsNodePort => "https node port",
            FieldId::Replicas => "replicas",
        }
    }

    /// Empty is not an answer: its problem waits until the field is typed in or the form
    /// is submitted, so an untouched form does not open full of complaints.
    fn required(self) -> bool {
        matches!(
            self,
            FieldId::Revision | FieldId::Namespace | FieldId::Name | FieldId::GatewayRevision
        )
    }

    /// Cycled with the choice keys rather than typed.
    fn is_choice(self) -> bool {
        matches!(
            self,
            FieldId::Profile | FieldId::Kind | FieldId::ServiceType
        )
    }
}

/// The service types a gateway form cycles through; `auto` is Istio's default.
const SERVICE_TYPES: &[&str] = &["auto", "NodePort", "LoadBalancer", "ClusterIP"];
const KINDS: &[&str] = &["ingress", "egress"];

/// One field as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub id: FieldId,
    pub value: String,
    /// Typed in (or changed) since the form opened.
    pub touched: bool,
}

impl Field {
    fn new(id: FieldId, value: impl Into<String>) -> Self {
        Field {
            id,
            value: value.into(),
            touched: false,
        }
    }

    /// Cycled with the choice keys rather than typed.
    pub fn is_choice(&self) -> bool {
        self.id.is_choice()
    }
}

/// What the form knows of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    /// The runner is reading them (task `id`).
    Reading(TaskId),
    Ready(Box<InstallFacts>),
    /// Reading failed: the API's message. Enter reads again.
    Failed(String),
}

/// A field's problems, and those no field owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Every problem, in the form's order.
    pub problems: Vec<(Option<FieldId>, Problem)>,
    /// The form, when every field parsed (it may still have problems).
    pub form: Option<Installable>,
}

impl Checked {
    pub fn of(&self, id: FieldId) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(move |(f, _)| *f == Some(id))
            .map(|(_, p)| p)
    }

    pub fn unplaced(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|(f, _)| f.is_none())
            .map(|(_, p)| p)
    }
}

/// The form of an install dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallForm {
    pub kind: InstallKind,
    pub fields: Vec<Field>,
    /// Index into `fields`.
    pub focus: usize,
    pub facts: Facts,
    /// The revisions the gateway's revision field cycles through: the cluster's, from the
    /// model until the facts arrive.
    pub revisions: Vec<String>,
    /// Enter was pressed: every problem shows.
    pub submitted: bool,
    /// The planning options: istioctl, where files go, istioctl's flags.
    pub options: PlanOptions,
    /// The name was typed: it stops following the namespace.
    name_typed: bool,
}

fn problem(field: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        field,
        message: message.into(),
    }
}

/// `a=b, c=d` as label items; blanks ignored.
fn items(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn number<T: std::str::FromStr>(
    text: &str,
    field: &'static str,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(problem(
                field,
                format!("{what} {text:?} is not a whole number"),
            ));
            None
        }
    }
}

fn optional(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl InstallForm {
    /// A control-plane revision: the name to type, profile `minimal`, nothing else set.
    pub fn revision(facts: TaskId, options: PlanOptions) -> Self {
        let fields = vec![
            Field::new(FieldId::Revision, ""),
            Field::new(FieldId::Profile, PROFILES.first().copied().unwrap_or("")),
            Field::new(FieldId::Hub, ""),
            Field::new(FieldId::Tag, ""),
            Field::new(FieldId::NodeSelector, ""),
            Field::new(FieldId::HpaMin, ""),
            Field::new(FieldId::HpaMax, ""),
        ];
        Self::new(InstallKind::Revision, fields, facts, Vec::new(), options)
    }

    /// A gateway of `revision` (the selected one, else the cluster's default); `revisions`
    /// the cluster's as the model knows them.
    pub fn gateway(
        facts: TaskId,
        revision: &str,
        revisions: Vec<String>,
        options: PlanOptions,
    ) -> Self {
        let fields = vec![
            Field::new(FieldId::Namespace, ""),
            Field::new(FieldId::Name, ""),
            Field::new(FieldId::GatewayRevision, revision),
            Field::new(FieldId::Kind, KINDS[0]),
            Field::new(FieldId::Labels, ""),
            Field::new(FieldId::ServiceType, SERVICE_TYPES[0]),
            Field::new(FieldId::HttpNodePort, ""),
            Field::new(FieldId::HttpsNodePort, ""),
            Field::new(FieldId::Replicas, ""),
            Field::new(FieldId::HpaMin, ""),
            Field::new(FieldId::HpaMax, ""),
        ];
        Self::new(InstallKind::Gateway, fields, facts, revisions, options)
    }

    fn new(
        kind: InstallKind,
        fields: Vec<Field>,
        facts: TaskId,
        revisions: Vec<String>,
        options: PlanOptions,
    ) -> Self {
        InstallForm {
            kind,
            fields,
            focus: 0,
            facts: Facts::Reading(facts),
            revisions,
            submitted: false,
            options,
            name_typed: false,
        }
    }

    pub fn focused(&self) -> &Field {
        &self.fields[self.focus.min(self.fields.len() - 1)]
    }

    pub fn value(&self, id: FieldId) -> &str {
        self.fields
            .iter()
            .find(|f| f.id == id)
            .map_or("", |f| f.value.as_str())
    }

    fn set(&mut self, id: FieldId, value: String) {
        if let Some(f) = self.fields.iter_mut().find(|f| f.id == id) {
            f.value = value;
        }
    }

    /// The facts arrived (or failed).
    pub fn on_facts(&mut self, facts: Result<Box<InstallFacts>, String>) {
        match facts {
            Ok(f) => {
                let revisions: Vec<String> = f.revisions().into_keys().collect();
                if !revisions.is_empty() {
                    self.revisions = revisions;
                }
                // The version pre-filled: the newest revision's, until typed.
                if self.kind == InstallKind::Revision
                    && let Some(v) = f.newest_version()
                    && let Some(tag) = self
                        .fields
                        .iter_mut()
                        .find(|x| x.id == FieldId::Tag && !x.touched && x.value.is_empty())
                {
                    tag.value = v.to_string();
                }
                self.facts = Facts::Ready(f);
            }
            Err(e) => self.facts = Facts::Failed(e),
        }
    }

    /// The suggested gateway name follows the namespace and the kind until typed in.
    fn follow(&mut self) {
        if self.kind != InstallKind::Gateway || self.name_typed {
            return;
        }
        let ns = self.value(FieldId::Namespace).trim().to_string();
        let name = if ns.is_empty() {
            String::new()
        } else {
            GatewayForm::suggested_name(self.gateway_kind(), &ns)
        };
        self.set(FieldId::Name, name);
    }

    fn gateway_kind(&self) -> GatewayKind {
        if self.value(FieldId::Kind) == "egress" {
            GatewayKind::Egress
        } else {
            GatewayKind::Ingress
        }
    }

    fn edited(&mut self) {
        let focus = self.focus;
        let id = self.fields[focus].id;
        self.fields[focus].touched = true;
        match id {
            FieldId::Name => self.name_typed = !self.fields[focus].value.is_empty(),
            FieldId::Namespace | FieldId::Kind => self.follow(),
            _ => {}
        }
    }

    /// Typed text goes into the focused field; choices only cycle.
    pub fn type_char(&mut self, c: char) {
        if self.focused().is_choice() {
            if c == ' ' {
                self.cycle(true);
            }
            return;
        }
        self.fields[self.focus].value.push(c);
        self.edited();
    }

    pub fn delete(&mut self) {
        if self.focused().is_choice() {
            return;
        }
        self.fields[self.focus].value.pop();
        self.edited();
    }

    pub fn next_field(&mut self) {
        self.focus = (self.focus + 1) % self.fields.len();
    }

    pub fn previous_field(&mut self) {
        self.focus = (self.focus + self.fields.len() - 1) % self.fields.len();
    }

    /// The values the focused field cycles through, if it is a choice (the gateway's
    /// revision cycles through the cluster's revisions, and can also be typed).
    fn choices(&self) -> Vec<String> {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        match self.focused().id {
            FieldId::Profile => owned(PROFILES),
            FieldId::Kind => owned(KINDS),
            FieldId::ServiceType => owned(SERVICE_TYPES),
            FieldId::GatewayRevision => self.revisions.clone(),
            _ => Vec::new(),
        }
    }

    /// Cycles the focused field's choices.
    pub fn cycle(&mut self, forward: bool) {
        let choices = self.choices();
        if choices.is_empty() {
            return;
        }
        let current = choices
            .iter()
            .position(|c| *c == self.focused().value)
            .unwrap_or(choices.len() - 1);
        let n = choices.len();
        let next = if forward {
            (current + 1) % n
        } else {
            (current + n - 1) % n
        };
        self.fields[self.focus].value = choices[next].clone();
        self.edited();
    }

    /// The field a problem belongs to.
    fn place(&self, p: &Problem) -> Option<FieldId> {
        Some(match (self.kind, p.field) {
            (InstallKind::Revision, "revision" | "iop_name") => FieldId::Revision,
            (InstallKind::Revision, "profile") => FieldId::Profile,
            (InstallKind::Revision, "hub") => FieldId::Hub,
            (InstallKind::Revision, "tag") => FieldId::Tag,
            (InstallKind::Revision, "node_selector") => FieldId::NodeSelector,
            (InstallKind::Revision, "hpa") => FieldId::HpaMax,
            (InstallKind::Gateway, "namespace") => FieldId::Namespace,
            (InstallKind::Gateway, "name" | "iop_name") => FieldId::Name,
            (InstallKind::Gateway, "revision") => FieldId::GatewayRevision,
            (InstallKind::Gateway, "labels") => FieldId::Labels,
            (InstallKind::Gateway, "service_type") => FieldId::ServiceType,
            (InstallKind::Gateway, "replicas") => FieldId::Replicas,
            (InstallKind::Gateway, "hpa") => FieldId::HpaMax,
            (InstallKind::Gateway, "node_ports") => {
                let http = self.value(FieldId::HttpNodePort).trim();
                let mentions_http = (p.message.contains("http2 ")
                    && !p.message.contains("http2 and https"))
                    || (!http.is_empty() && p.message.contains(&format!("node port {http} ")));
                if mentions_http {
                    FieldId::HttpNodePort
                } else {
                    FieldId::HttpsNodePort
                }
            }
            _ => return None,
        })
    }

    /// The autoscaler's bounds as typed; those that do not parse are problems.
    fn autoscaler(&self, problems: &mut Vec<Problem>) -> (Option<u32>, Option<u32>) {
        (
            number(
                self.value(FieldId::HpaMin),
                "hpa",
                "the autoscaler's minimum",
                problems,
            ),
            number(
                self.value(FieldId::HpaMax),
                "hpa",
                "the autoscaler's maximum",
                problems,
            ),
        )
    }

    /// The typed values as a form, and every problem: the values that do not parse, the
    /// form's own checks, and once the facts are read, the clashes with the cluster.
    pub fn check(&self) -> Checked {
        let mut problems = Vec::new();
        let v = |id| self.value(id);
        let mut conflicts_of = None;
        let form = match self.kind {
            InstallKind::Revision => {
                let node_selector =
                    match parse_key_values(&items(v(FieldId::NodeSelector)), "node selector") {
                        Ok(m) => Some(m),
                        Err(e) => {
                            problems.push(problem("node_selector", e.to_string()));
                            None
                        }
                    };
                let (hpa_min, hpa_max) = self.autoscaler(&mut problems);
                let form = RevisionForm {
                    revision: v(FieldId::Revision).trim().to_string(),
                    profile: v(FieldId::Profile).to_string(),
                    hub: optional(v(FieldId::Hub)),
                    tag: optional(v(FieldId::Tag)),
                    node_selector: node_selector.clone().unwrap_or_default(),
                    hpa_min,
                    hpa_max,
                    iop_name: None,
                };
                problems.extend(form.problems());
                // Whether the revision is in use does not depend on the node selector.
                conflicts_of = Some(Installable::Revision(form.clone()));
                node_selector.map(|_| Installable::Revision(form))
            }
            InstallKind::Gateway => {
                let labels = match parse_key_values(&items(v(FieldId::Labels)), "gateway label") {
                    Ok(m) => Some(m),
                    Err(e) => {
                        problems.push(problem("labels", e.to_string()));
                        None
                    }
                };
                let http = number(
                    v(FieldId::HttpNodePort),
                    "node_ports",
                    "the node port for http2",
                    &mut problems,
                );
                let https = number(
                    v(FieldId::HttpsNodePort),
                    "node_ports",
                    "the node port for https",
                    &mut problems,
                );
                let replicas = number(
                    v(FieldId::Replicas),
                    "replicas",
                    "the replicas",
                    &mut problems,
                );
                let (hpa_min, hpa_max) = self.autoscaler(&mut problems);
                let service_type = match v(FieldId::ServiceType) {
                    "NodePort" => Some(ServiceType::NodePort),
                    "LoadBalancer" => Some(ServiceType::LoadBalancer),
                    "ClusterIP" => Some(ServiceType::ClusterIP),
                    _ => None,
                };
                let mut form = GatewayForm::new(
                    v(FieldId::Namespace).trim(),
                    v(FieldId::Name).trim(),
                    v(FieldId::GatewayRevision).trim(),
                );
                form.kind = self.gateway_kind();
                form.labels = labels.clone().unwrap_or_default();
                form.service_type = service_type;
                form.http_node_port = http;
                form.https_node_port = https;
                form.replicas = replicas;
                form.hpa_min = hpa_min;
                form.hpa_max = hpa_max;
                problems.extend(form.problems());
                let parsed = labels.is_some()
                    && (http.is_some() || v(FieldId::HttpNodePort).trim().is_empty())
                    && (https.is_some() || v(FieldId::HttpsNodePort).trim().is_empty());
                // The clashes depend on the labels: not checked with labels that did not
                // parse (the defaults would stand in for them).
                if labels.is_some() {
                    conflicts_of = Some(Installable::Gateway(form.clone()));
                }
                parsed.then_some(Installable::Gateway(form))
            }
        };
        if let (Some(form), Facts::Ready(facts)) = (&conflicts_of, &self.facts) {
            problems.extend(form.conflicts(facts));
        }
        Checked {
            problems: problems.into_iter().map(|p| (self.place(&p), p)).collect(),
            form,
        }
    }

    /// The field-report trap, before it is set: a gateway that runs a single replica where
    /// its installer puts a PodDisruptionBudget over it (the IstioOperator route, Istio
    /// 1.5-1.27; the gateway chart makes none) blocks the drain of its node. The field it
    /// belongs to and the warning; [`InstallForm::apply_fix`] sets the autoscaler's minimum
    /// (or the replicas) to 2.
    pub fn budget_warning(&self) -> Option<(FieldId, String)> {
        let Some(Installable::Gateway(form)) = self.check().form else {
            return None;
        };
        if form.min_replicas() >= 2 {
            return None;
        }
        if let Facts::Ready(facts) = &self.facts
            && facts.helm_release_of(&form.revision).is_some()
        {
            return None;
        }
        let field = if form.replicas.is_some() {
            FieldId::Replicas
        } else {
            FieldId::HpaMin
        };
        Some((
            field,
            format!(
                "a single replica under the PodDisruptionBudget Istio creates for the gateway \
                 blocks the drain of its node (the field report's trap): the fix sets {} to 2; \
                 or edit the resource for no budget \
                 (values.global.defaultPodDisruptionBudget.enabled: false)",
                field.label()
            ),
        ))
    }

    /// Applies the fix [`InstallForm::budget_warning`] offers, if it offers one.
    pub fn apply_fix(&mut self) -> bool {
        let Some((field, _)) = self.budget_warning() else {
            return false;
        };
        self.set(field, "2".into());
        if field == FieldId::HpaMin
            && let Some(max) = self.fields.iter().find(|f| f.id == FieldId::HpaMax)
            && max.value.trim().parse::<u32>().is_ok_and(|m| m < 2)
        {
            self.set(FieldId::HpaMax, "2".into());
        }
        if let Some(f) = self.fields.iter_mut().find(|f| f.id == field) {
            f.touched = true;
        }
        true
    }

    /// Whether a field's problems show now: an empty required field's only once it was
    /// typed in or the form submitted.
    pub fn shows_problems(&self, field: &Field) -> bool {
        self.submitted || field.touched || !field.id.required() || !field.value.is_empty()
    }

    /// What an empty or automatic field amounts to, for its hint.
    pub fn effective(&self, id: FieldId) -> Option<String> {
        match (self.kind, id) {
            (InstallKind::Gateway, FieldId::Labels) if self.value(id).trim().is_empty() => {
                let form = GatewayForm::new("", self.value(FieldId::Name).trim(), "");
                let labels: Vec<String> = form
                    .effective_labels()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                (!self.value(FieldId::Name).trim().is_empty()).then(|| labels.join(","))
            }
            (InstallKind::Gateway, FieldId::ServiceType) if self.value(id) == "auto" => {
                let mut form = GatewayForm::new("", "", "");
                form.kind = self.gateway_kind();
                form.http_node_port = self.value(FieldId::HttpNodePort).trim().parse().ok();
                form.https_node_port = self.value(FieldId::HttpsNodePort).trim().parse().ok();
                Some(form.effective_service_type().as_str().to_string())
            }
            _ => None,
        }
    }

    /// Plans the install from the facts, or says why not (nothing is sent either way).
    pub fn plan(&self) -> Result<Planned, String> {
        let facts = match &self.facts {
            Facts::Ready(f) => f,
            Facts::Reading(_) => {
                return Err(
                    "still reading the cluster: the checks need it (nothing is sent)".into(),
                );
            }
            Facts::Failed(e) => return Err(format!("reading the cluster failed: {e}")),
        };
        let checked = self.check();
        let n = checked.problems.len();
        let form = match checked.form {
            Some(form) if n == 0 => form,
            _ => {
                return Err(format!(
                    "{n} problem{} to fix first: nothing is sent",
                    if n == 1 { "" } else { "s" }
                ));
            }
        };
        let plan = match &form {
            Installable::Revision(f) => plan_revision(f, facts, &self.options),
            Installable::Gateway(f) => plan_gateway(f, facts, &self.options),
        }
        .map_err(|e| e.to_string())?;
        Ok(Planned {
            form,
            plan,
            edited: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PlanOptions {
        PlanOptions {
            istioctl: None,
            force_istioctl: false,
            file: None,
            istioctl_args: Vec::new(),
            istioctl_kubeconfig: None,
            helm: None,
            helm_args: Vec::new(),
            chart: None,
        }
    }

    fn type_str(f: &mut InstallForm, s: &str) {
        for c in s.chars() {
            f.type_char(c);
        }
    }

    #[test]
    fn the_gateway_name_follows_the_namespace_until_typed() {
        let mut f = InstallForm::gateway(1, "1-9-1", vec!["1-9-1".into()], opts());
        type_str(&mut f, "shop");
        assert_eq!(f.value(FieldId::Name), "istio-ingressgateway-shop");
        f.focus = 3;
        f.cycle(true);
        assert_eq!(f.value(FieldId::Kind), "egress");
        assert_eq!(f.value(FieldId::Name), "istio-egressgateway-shop");
        f.focus = 1;
        type_str(&mut f, "-x");
        f.focus = 0;
        type_str(&mut f, "2");
        assert_eq!(f.value(FieldId::Name), "istio-egressgateway-shop-x");
    }

    #[test]
    fn values_that_do_not_parse_are_problems_of_their_field() {
        let mut f = InstallForm::revision(1, opts());
        type_str(&mut f, "canary");
        f.focus = 4;
        type_str(&mut f, "taco-istio");
        f.focus = 5;
        type_str(&mut f, "two");
        let c = f.check();
        assert!(c.form.is_none());
        assert_eq!(c.of(FieldId::NodeSelector).count(), 1, "{c:?}");
        assert_eq!(c.of(FieldId::HpaMax).count(), 1, "{c:?}");
        assert!(f.plan().is_err());
    }

    fn facts(path: &str) -> Result<Box<InstallFacts>, String> {
        let model = crate::model::fixture::scenario(path);
        InstallFacts::from_model(&model, "istio-system")
            .map(Box::new)
            .map_err(|e| e.to_string())
    }

    /// The revision form shows the newest revision's version until one is typed.
    #[test]
    fn the_version_is_prefilled_from_the_newest_revision() {
        let mut f = InstallForm::revision(1, opts());
        f.on_facts(facts("assets/scenarios/canary-2026.yaml"));
        assert_eq!(f.value(FieldId::Tag), "1.30.1");
        let mut typed = InstallForm::revision(1, opts());
        typed.focus = 3;
        type_str(&mut typed, "1.31.0");
        typed.on_facts(facts("assets/scenarios/canary-2026.yaml"));
        assert_eq!(typed.value(FieldId::Tag), "1.31.0");
    }

    /// A single-replica gateway of an IstioOperator revision gets a budget that blocks its
    /// node's drain: warned, and the fix sets the autoscaler's minimum (or the replicas) to
    /// 2. A Helm revision's gateway chart makes no budget: no warning.
    #[test]
    fn a_single_replica_gateway_under_a_budget_is_warned_and_fixed() {
        let mut f = InstallForm::gateway(1, "1-9-1", vec!["1-9-1".into()], opts());
        f.on_facts(facts("assets/scenarios/k1-upgrade.yaml"));
        type_str(&mut f, "shop");
        let (field, text) = f.budget_warning().expect("warned");
        assert_eq!(field, FieldId::HpaMin);
        assert!(text.contains("blocks the drain of its node"), "{text}");
        assert!(f.apply_fix());
        assert_eq!(f.value(FieldId::HpaMin), "2");
        assert_eq!(f.budget_warning(), None);
        assert!(f.check().problems.is_empty(), "{:?}", f.check());

        let mut fixed = InstallForm::gateway(1, "1-9-1", vec!["1-9-1".into()], opts());
        fixed.on_facts(facts("assets/scenarios/k1-upgrade.yaml"));
        type_str(&mut fixed, "shop");
        fixed.focus = 8;
        type_str(&mut fixed, "1");
        assert_eq!(fixed.budget_warning().map(|w| w.0), Some(FieldId::Replicas));
        assert!(fixed.apply_fix());
        assert_eq!(fixed.value(FieldId::Replicas), "2");
        assert!(!fixed.apply_fix());

        let mut helm = InstallForm::gateway(1, "1-30-1", vec!["1-30-1".into()], opts());
        helm.on_facts(facts("assets/scenarios/canary-2026.yaml"));
        type_str(&mut helm, "shop");
        assert_eq!(helm.budget_warning(), None);
        assert!(!helm.apply_fix());
    }

    #[test]
    fn choices_cycle_both_ways() {
        let mut f = InstallForm::revision(1, opts());
        f.focus = 1;
        f.cycle(false);
        assert_eq!(
            f.value(FieldId::Profile),
            *PROFILES.last().expect("profiles")
        );
        f.cycle(true);
        assert_eq!(f.value(FieldId::Profile), PROFILES[0]);
        // Typing into a choice does nothing but space, which cycles.
        f.type_char('x');
        assert_eq!(f.value(FieldId::Profile), PROFILES[0]);
    }
}
