//! What a skops file may contain: the estimators shaplab explains and the plain data their
//! fitted state is made of (trees, losses, links, dummy init estimators, random states, numpy
//! arrays and scalars). Listed by module and class as skops writes them, including the
//! modules older scikit-learn releases used, since a file keeps the names it was saved with.

/// Newest skops protocol understood (skops 0.10–0.16 write 2).
pub const MAX_PROTOCOL: i64 = 2;

/// skops node kinds whose layout the loader knows. Notably absent: `ReduceNode`-style
/// constructors (`ConstructorFromReduceNode`), `MethodNode`, `OperatorFuncNode`, bytes, sets
/// and `CachedNode` back-references, none of which a supported estimator stores.
pub const LOADERS: &[&str] = &[
    "ObjectNode",
    "DictNode",
    "ListNode",
    "TupleNode",
    "JsonNode",
    "NdArrayNode",
    "DTypeNode",
    "TreeNode",
    "LossNode",
    "TypeNode",
    "FunctionNode",
    "PartialNode",
    "SliceNode",
    "RandomStateNode",
    "RandomGeneratorNode",
];

/// The estimators a file's root may be.
pub const ESTIMATORS: &[&str] = &[
    "DecisionTreeRegressor",
    "DecisionTreeClassifier",
    "ExtraTreeRegressor",
    "ExtraTreeClassifier",
    "RandomForestRegressor",
    "RandomForestClassifier",
    "ExtraTreesRegressor",
    "ExtraTreesClassifier",
    "GradientBoostingRegressor",
    "GradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "HistGradientBoostingClassifier",
];

const ALLOWED: &[(&str, &[&str])] = &[
    (
        "builtins",
        &[
            "dict", "list", "tuple", "str", "int", "float", "bool", "NoneType", "slice",
        ],
    ),
    (
        "numpy",
        &[
            "ndarray", "dtype", "float64", "float32", "int64", "int32", "int16", "int8", "uint64",
            "uint32", "uint16", "uint8", "bool_", "bool", "intp", "str_", "object_", "object",
        ],
    ),
    ("numpy.random.mtrand", &["RandomState"]),
    ("numpy.random._generator", &["Generator"]),
    (
        "sklearn.tree._classes",
        &[
            "DecisionTreeRegressor",
            "DecisionTreeClassifier",
            "ExtraTreeRegressor",
            "ExtraTreeClassifier",
        ],
    ),
    ("sklearn.tree._tree", &["Tree"]),
    (
        "sklearn.ensemble._forest",
        &[
            "RandomForestRegressor",
            "RandomForestClassifier",
            "ExtraTreesRegressor",
            "ExtraTreesClassifier",
        ],
    ),
    (
        "sklearn.ensemble._gb",
        &["GradientBoostingRegressor", "GradientBoostingClassifier"],
    ),
    // GradientBoosting losses before scikit-learn 1.3 (`loss_`).
    (
        "sklearn.ensemble._gb_losses",
        &[
            "LeastSquaresError",
            "LeastAbsoluteError",
            "HuberLossFunction",
            "QuantileLossFunction",
            "BinomialDeviance",
            "MultinomialDeviance",
            "ExponentialLoss",
        ],
    ),
    (
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting",
        &[
            "HistGradientBoostingRegressor",
            "HistGradientBoostingClassifier",
        ],
    ),
    (
        "sklearn.ensemble._hist_gradient_boosting.predictor",
        &["TreePredictor"],
    ),
    (
        "sklearn.ensemble._hist_gradient_boosting.binning",
        &["_BinMapper"],
    ),
    // HistGradientBoosting losses before scikit-learn 1.1.
    (
        "sklearn.ensemble._hist_gradient_boosting.loss",
        &[
            "LeastSquares",
            "LeastAbsoluteDeviation",
            "BinaryCrossEntropy",
            "CategoricalCrossEntropy",
            "Poisson",
        ],
    ),
    ("sklearn.dummy", &["DummyRegressor", "DummyClassifier"]),
    ("sklearn.preprocessing._label", &["LabelEncoder"]),
    (
        "sklearn._loss.loss",
        &[
            "HalfSquaredError",
            "AbsoluteError",
            "PinballLoss",
            "HuberLoss",
            "HalfPoissonLoss",
            "HalfGammaLoss",
            "HalfTweedieLoss",
            "HalfTweedieLossIdentity",
            "HalfBinomialLoss",
            "HalfMultinomialLoss",
            "ExponentialLoss",
        ],
    ),
    (
        "sklearn._loss._loss",
        &[
            "CyHalfSquaredError",
            "CyAbsoluteError",
            "CyPinballLoss",
            "CyHuberLoss",
            "CyHalfPoissonLoss",
            "CyHalfGammaLoss",
            "CyHalfTweedieLoss",
            "CyHalfTweedieLossIdentity",
            "CyHalfBinomialLoss",
            "CyHalfMultinomialLoss",
            "CyExponentialLoss",
        ],
    ),
    (
        "sklearn._loss.link",
        &[
            "IdentityLink",
            "LogLink",
            "LogitLink",
            "HalfLogitLink",
            "MultinomialLogit",
            "Interval",
        ],
    ),
    // The preprocessor HistGradientBoosting builds for categorical features: an
    // OrdinalEncoder for the categorical columns and a pass-through for the others (a
    // `partial(check_array, …)`, stored by name and never called).
    (
        "sklearn.compose._column_transformer",
        &["ColumnTransformer"],
    ),
    ("sklearn.preprocessing._encoders", &["OrdinalEncoder"]),
    (
        "sklearn.preprocessing._function_transformer",
        &["FunctionTransformer"],
    ),
    ("functools", &["partial"]),
    ("sklearn.utils.validation", &["check_array"]),
];

pub fn allowed(module: &str, class: &str) -> bool {
    ALLOWED
        .iter()
        .any(|(m, classes)| *m == module && classes.contains(&class))
}

/// The sentence listing what is accepted, for refusals.
pub fn accepted() -> String {
    format!(
        "shaplab reads these scikit-learn estimators saved with skops: {}",
        ESTIMATORS.join(", ")
    )
}
