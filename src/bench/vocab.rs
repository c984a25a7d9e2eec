//! Vocabularies of the synthetic dataset: common first and last names, job functions and the
//! title patterns of each seniority, company industries, keywords and technologies, places.
//! Plain data; `generate` draws from it with a seeded generator.

pub const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Margaret", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily",
    "Andrew", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Dorothy", "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie", "Edward",
    "Rebecca", "Jason", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Kathleen",
    "Gary", "Amy", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna", "Stephen",
    "Brenda", "Larry", "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen",
    "Benjamin", "Samantha", "Samuel", "Katherine", "Gregory", "Christine", "Alexander", "Debra",
    "Frank", "Rachel", "Patrick", "Carolyn", "Raymond", "Janet", "Jack", "Catherine", "Dennis",
    "Maria", "Jerry", "Heather", "Tyler", "Diane", "Aaron", "Ruth", "Jose", "Julie", "Adam",
    "Olivia", "Nathan", "Joyce", "Henry", "Virginia", "Douglas", "Victoria", "Zachary", "Kelly",
    "Peter", "Lauren", "Kyle", "Christina", "Ethan", "Joan", "Walter", "Evelyn", "Noah", "Judith",
    "Jeremy", "Megan", "Christian", "Andrea", "Keith", "Cheryl", "Roger", "Hannah", "Terry",
    "Jacqueline", "Gerald", "Martha", "Harold", "Gloria", "Sean", "Teresa", "Austin", "Ann",
    "Carl", "Sara", "Arthur", "Madison", "Lawrence", "Frances", "Dylan", "Kathryn", "Jesse",
    "Janice", "Jordan", "Jean", "Bryan", "Abigail", "Billy", "Alice", "Joe", "Julia", "Bruce",
    "Judy", "Gabriel", "Sophia", "Logan", "Grace", "Albert", "Denise", "Willie", "Amber", "Alan",
    "Doris", "Juan", "Marilyn", "Wayne", "Danielle", "Elijah", "Beverly", "Randy", "Isabella",
    "Roy", "Theresa", "Vincent", "Diana", "Ralph", "Natalie", "Eugene", "Brittany", "Russell",
    "Charlotte", "Bobby", "Marie", "Mason", "Kayla", "Philip", "Alexis", "Louis", "Lori", "Liam",
    "Mia", "Lucas", "Chloe", "Mateo", "Ava", "Leo", "Amelia", "Oliver", "Harper", "Elias",
    "Luna", "Hugo", "Camila", "Felix", "Sofia", "Jonas", "Lea", "Lukas", "Hanna", "Maximilian",
    "Lena", "Paulo", "Ines", "Pierre", "Camille", "Louis", "Chloé", "Antoine", "Manon", "Marco",
    "Giulia", "Luca", "Francesca", "Alessandro", "Chiara", "Javier", "Lucia", "Diego", "Carmen",
    "Pablo", "Elena", "Raj", "Priya", "Arjun", "Ananya", "Vikram", "Divya", "Rahul", "Pooja",
    "Wei", "Li", "Jun", "Mei", "Hiroshi", "Yuki", "Kenji", "Sakura", "Min-jun", "Ji-woo",
    "Mohammed", "Fatima", "Ahmed", "Aisha", "Omar", "Layla", "Yusuf", "Noor", "Kwame", "Amara",
    "Chinedu", "Zainab", "Olga", "Ivan", "Natalia", "Dmitri", "Anya", "Sven", "Ingrid", "Lars",
    "Astrid", "Mateus", "Beatriz", "Thiago", "Larissa", "Rafael", "Gabriela", "Sebastian",
    "Valentina", "Nikolai", "Katarzyna", "Piotr", "Agnieszka", "Tomasz", "Zofia", "Erik", "Freya",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler",
    "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan",
    "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno",
    "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar",
    "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez",
    "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman",
    "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter",
    "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks",
    "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar",
    "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson",
    "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn",
    "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos",
    "Hart", "Bradley", "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson",
    "Carroll", "Lane", "Riley", "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins",
    "Hoffman", "Johnston", "Matthews", "Pena", "Richards", "Contreras", "Willis", "Carpenter",
    "Lawrence", "Sandoval", "Müller", "Schneider", "Fischer", "Weber", "Becker", "Schulz",
    "Koch", "Richter", "Klein", "Wolf", "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent",
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Kowalski",
    "Nowak", "Wiśniewski", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Andersson",
    "Johansson", "Karlsson", "Nilsson", "Larsen", "Nielsen", "Jensen", "Virtanen", "Korhonen",
    "Sharma", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Wang", "Zhang", "Liu", "Yang", "Huang",
    "Zhao", "Wu", "Zhou", "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Park", "Choi",
    "Jung", "Kang", "Cho", "Okafor", "Adeyemi", "Mensah", "Osei", "Haddad", "Khalil", "Nasser",
    "Hassan", "Ivanov", "Petrov", "Smirnov", "Popescu", "Horvat", "Novak", "O'Brien", "O'Connor",
    "Byrne", "Walsh", "MacLeod", "Fraser", "Costa", "Oliveira", "Pereira", "Almeida", "Ferreira",
];

/// A job function: its department and the role nouns its titles use.
pub struct Function {
    pub department: &'static str,
    /// As in "Director of <area>", "VP of <area>", "Head of <area>".
    pub area: &'static str,
    /// Individual-contributor roles, as in "Senior <role>".
    pub roles: &'static [&'static str],
}

pub const FUNCTIONS: &[Function] = &[
    Function { department: "Engineering", area: "Engineering", roles: &["Software Engineer", "Backend Engineer", "Frontend Engineer", "Full Stack Developer", "DevOps Engineer", "Site Reliability Engineer", "QA Engineer", "Mobile Developer", "Embedded Software Engineer"] },
    Function { department: "Information Technology", area: "IT", roles: &["Systems Administrator", "Network Engineer", "IT Support Specialist", "Database Administrator", "Cloud Architect", "Solutions Architect"] },
    Function { department: "Data", area: "Data Science", roles: &["Data Scientist", "Data Engineer", "Data Analyst", "Machine Learning Engineer", "Business Intelligence Analyst", "Analytics Engineer"] },
    Function { department: "Product", area: "Product", roles: &["Product Manager", "Product Owner", "Technical Product Manager", "Product Analyst"] },
    Function { department: "Design", area: "Design", roles: &["UX Designer", "UI Designer", "Product Designer", "Graphic Designer", "UX Researcher"] },
    Function { department: "Sales", area: "Sales", roles: &["Account Executive", "Sales Development Representative", "Business Development Representative", "Account Manager", "Sales Engineer", "Inside Sales Representative"] },
    Function { department: "Marketing", area: "Marketing", roles: &["Marketing Specialist", "Content Marketing Manager", "SEO Specialist", "Growth Marketer", "Demand Generation Manager", "Brand Manager", "Social Media Manager"] },
    Function { department: "Customer Success", area: "Customer Success", roles: &["Customer Success Manager", "Customer Support Specialist", "Technical Support Engineer", "Implementation Consultant"] },
    Function { department: "Finance", area: "Finance", roles: &["Financial Analyst", "Accountant", "Controller", "Payroll Specialist", "FP&A Analyst", "Treasury Analyst"] },
    Function { department: "Human Resources", area: "People", roles: &["Recruiter", "Talent Acquisition Partner", "HR Business Partner", "HR Generalist", "People Operations Specialist"] },
    Function { department: "Operations", area: "Operations", roles: &["Operations Analyst", "Supply Chain Analyst", "Logistics Coordinator", "Procurement Specialist", "Project Manager", "Program Manager"] },
    Function { department: "Legal", area: "Legal", roles: &["Corporate Counsel", "Paralegal", "Compliance Analyst", "Contract Manager"] },
    Function { department: "Research", area: "Research", roles: &["Research Scientist", "Research Engineer", "Clinical Research Associate", "Lab Technician"] },
    Function { department: "Consulting", area: "Consulting", roles: &["Consultant", "Management Consultant", "Strategy Consultant", "Business Analyst"] },
];

pub const C_SUITE: &[&str] = &[
    "Chief Executive Officer", "CEO", "Chief Technology Officer", "CTO",
    "Chief Financial Officer", "CFO", "Chief Operating Officer", "COO",
    "Chief Marketing Officer", "CMO", "Chief Revenue Officer", "Chief Product Officer",
    "Chief Information Officer", "Chief People Officer", "Chief Data Officer",
];

pub const OWNER_TITLES: &[&str] = &[
    "Founder", "Co-Founder", "Owner", "Founder & CEO", "Co-Founder & CTO", "Managing Partner",
    "Partner", "President", "Principal",
];

pub const INDUSTRIES: &[&str] = &[
    "Information Technology & Services", "Computer Software", "Internet", "Financial Services",
    "Banking", "Insurance", "Hospital & Health Care", "Medical Devices", "Pharmaceuticals",
    "Biotechnology", "Marketing & Advertising", "Management Consulting", "Staffing & Recruiting",
    "Real Estate", "Construction", "Retail", "Consumer Goods", "Food & Beverages",
    "Automotive", "Telecommunications", "Higher Education", "E-Learning", "Education Management",
    "Logistics & Supply Chain", "Transportation/Trucking/Railroad", "Oil & Energy", "Renewables & Environment",
    "Utilities", "Mechanical or Industrial Engineering", "Electrical/Electronic Manufacturing",
    "Machinery", "Chemicals", "Aviation & Aerospace", "Defense & Space", "Government Administration",
    "Nonprofit Organization Management", "Legal Services", "Accounting", "Hospitality",
    "Leisure, Travel & Tourism", "Restaurants", "Entertainment", "Media Production",
    "Online Media", "Publishing", "Computer Games", "Sports", "Apparel & Fashion", "Cosmetics",
    "Wholesale", "Import & Export", "Farming", "Mining & Metals", "Architecture & Planning",
    "Design", "Research", "Venture Capital & Private Equity", "Investment Management",
    "Computer & Network Security", "Semiconductors", "Wireless", "Health, Wellness & Fitness",
    "Human Resources", "Events Services", "Civil Engineering", "Environmental Services",
];

pub const KEYWORDS: &[&str] = &[
    "saas", "b2b", "b2c", "enterprise software", "cloud", "artificial intelligence",
    "machine learning", "analytics", "big data", "cybersecurity", "fintech", "payments",
    "ecommerce", "marketplace", "mobile apps", "healthtech", "telemedicine", "edtech",
    "proptech", "insurtech", "logistics", "supply chain", "iot", "robotics", "automation",
    "digital marketing", "seo", "content marketing", "lead generation", "crm", "erp",
    "consulting", "outsourcing", "staffing", "recruiting", "hr tech", "devops",
    "open source", "blockchain", "crypto", "clean energy", "solar", "electric vehicles",
    "sustainability", "biotech", "genomics", "clinical trials", "medical devices",
    "manufacturing", "3d printing", "construction tech", "real estate", "hospitality",
    "travel", "food delivery", "retail tech", "fashion", "gaming", "esports", "media",
    "streaming", "advertising", "adtech", "martech", "data privacy", "compliance",
    "legal tech", "accounting", "wealth management", "lending", "banking", "insurance",
    "telecom", "5g", "semiconductors", "hardware", "api", "developer tools", "low code",
    "customer support", "customer experience", "collaboration", "productivity",
];

pub const TECHNOLOGIES: &[&str] = &[
    "Salesforce", "HubSpot", "Marketo", "Pardot", "Google Analytics", "Google Tag Manager",
    "Segment", "Mixpanel", "Amplitude", "Intercom", "Zendesk", "Freshdesk", "Slack",
    "Microsoft Teams", "Zoom", "Jira", "Confluence", "Asana", "Trello", "Notion", "GitHub",
    "GitLab", "Bitbucket", "Jenkins", "CircleCI", "Docker", "Kubernetes", "Terraform",
    "Ansible", "AWS", "Google Cloud", "Microsoft Azure", "Heroku", "DigitalOcean",
    "Cloudflare", "Fastly", "Akamai", "Nginx", "Apache", "PostgreSQL", "MySQL", "MongoDB",
    "Redis", "Elasticsearch", "Kafka", "RabbitMQ", "NATS", "Snowflake", "BigQuery",
    "Redshift", "Databricks", "Tableau", "Looker", "Power BI", "dbt", "Airflow", "React",
    "Angular", "Vue.js", "Next.js", "Node.js", "Python", "Django", "Flask", "Ruby on Rails",
    "Java", "Spring", "Kotlin", "Go", "Rust", "Scala", ".NET", "PHP", "Laravel", "WordPress",
    "Shopify", "Magento", "WooCommerce", "Stripe", "PayPal", "Braintree", "Adyen", "Twilio",
    "SendGrid", "Mailchimp", "Okta", "Auth0", "Workday", "SAP", "Oracle", "NetSuite",
    "QuickBooks", "Xero", "DocuSign", "Gong", "Outreach", "Salesloft", "ZoomInfo", "Apollo",
    "LinkedIn Sales Navigator", "Datadog", "New Relic", "Sentry", "PagerDuty", "Splunk",
];

/// (city, state, country).
pub const PLACES: &[(&str, &str, &str)] = &[
    ("New York", "New York", "United States"), ("San Francisco", "California", "United States"),
    ("Los Angeles", "California", "United States"), ("Chicago", "Illinois", "United States"),
    ("Austin", "Texas", "United States"), ("Dallas", "Texas", "United States"),
    ("Houston", "Texas", "United States"), ("Seattle", "Washington", "United States"),
    ("Boston", "Massachusetts", "United States"), ("Denver", "Colorado", "United States"),
    ("Atlanta", "Georgia", "United States"), ("Miami", "Florida", "United States"),
    ("Phoenix", "Arizona", "United States"), ("San Diego", "California", "United States"),
    ("Philadelphia", "Pennsylvania", "United States"), ("Minneapolis", "Minnesota", "United States"),
    ("Portland", "Oregon", "United States"), ("Raleigh", "North Carolina", "United States"),
    ("Salt Lake City", "Utah", "United States"), ("Nashville", "Tennessee", "United States"),
    ("Toronto", "Ontario", "Canada"), ("Vancouver", "British Columbia", "Canada"),
    ("Montreal", "Quebec", "Canada"), ("London", "England", "United Kingdom"),
    ("Manchester", "England", "United Kingdom"), ("Edinburgh", "Scotland", "United Kingdom"),
    ("Dublin", "Leinster", "Ireland"), ("Berlin", "Berlin", "Germany"),
    ("Munich", "Bavaria", "Germany"), ("Hamburg", "Hamburg", "Germany"),
    ("Paris", "Île-de-France", "France"), ("Lyon", "Auvergne-Rhône-Alpes", "France"),
    ("Amsterdam", "North Holland", "Netherlands"), ("Rotterdam", "South Holland", "Netherlands"),
    ("Madrid", "Madrid", "Spain"), ("Barcelona", "Catalonia", "Spain"),
    ("Milan", "Lombardy", "Italy"), ("Rome", "Lazio", "Italy"),
    ("Zurich", "Zurich", "Switzerland"), ("Stockholm", "Stockholm", "Sweden"),
    ("Copenhagen", "Capital Region", "Denmark"), ("Oslo", "Oslo", "Norway"),
    ("Helsinki", "Uusimaa", "Finland"), ("Warsaw", "Masovia", "Poland"),
    ("Lisbon", "Lisbon", "Portugal"), ("Vienna", "Vienna", "Austria"),
    ("Prague", "Prague", "Czech Republic"), ("Tel Aviv", "Tel Aviv", "Israel"),
    ("Dubai", "Dubai", "United Arab Emirates"), ("Bangalore", "Karnataka", "India"),
    ("Mumbai", "Maharashtra", "India"), ("Hyderabad", "Telangana", "India"),
    ("Singapore", "Singapore", "Singapore"), ("Sydney", "New South Wales", "Australia"),
    ("Melbourne", "Victoria", "Australia"), ("Tokyo", "Tokyo", "Japan"),
    ("Seoul", "Seoul", "South Korea"), ("São Paulo", "São Paulo", "Brazil"),
    ("Mexico City", "CDMX", "Mexico"), ("Buenos Aires", "Buenos Aires", "Argentina"),
    ("Lagos", "Lagos", "Nigeria"), ("Nairobi", "Nairobi", "Kenya"),
    ("Cape Town", "Western Cape", "South Africa"),
];

/// Company names are `<stem><suffix> <form>`, e.g. "Northwind Labs".
pub const COMPANY_STEMS: &[&str] = &[
    "Acme", "Apex", "Atlas", "Aurora", "Beacon", "Blue", "Bright", "Cedar", "Clear", "Cloud",
    "Cobalt", "Core", "Crest", "Data", "Delta", "Echo", "Ember", "Evergreen", "Falcon", "Fusion",
    "Global", "Granite", "Harbor", "Horizon", "Indigo", "Insight", "Iron", "Keystone", "Lumen",
    "Maple", "Meridian", "Nexus", "North", "Nova", "Oak", "Omni", "Orbit", "Peak", "Pine",
    "Pioneer", "Pixel", "Prime", "Quantum", "Radiant", "Red", "River", "Sage", "Signal",
    "Silver", "Sky", "Solar", "Spark", "Spring", "Star", "Stone", "Summit", "Swift", "Terra",
    "Tide", "True", "Union", "Vector", "Velocity", "Vertex", "Vista", "Wave", "West", "Zen",
];
pub const COMPANY_SUFFIXES: &[&str] = &[
    "", "wind", "point", "bridge", "field", "gate", "works", "logic", "soft", "tech", "ly",
    "io", "stack", "path", "scale", "base", "line", "view", "mark", "forge",
];
pub const COMPANY_FORMS: &[&str] = &[
    "Inc", "LLC", "Labs", "Group", "Technologies", "Systems", "Solutions", "Partners",
    "Holdings", "Software", "Analytics", "Health", "Capital", "Media", "Consulting", "GmbH",
    "Ltd", "Co", "Networks", "Studio",
];

pub const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"];

pub const EMAIL_STATUSES: &[(&str, u32)] = &[
    ("verified", 60), ("guessed", 20), ("unavailable", 10), ("bounced", 5), ("pending", 5),
];
