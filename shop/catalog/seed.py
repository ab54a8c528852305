"""Deterministic seed data for the catalog: 10 categories and 1,200 products.

Both deployments and the load tests load this same data, so it must be identical on every
call and every machine: one ``random.Random`` with a fixed seed, consumed in a fixed order,
only lists and dicts iterated (never sets), no clock. Names are built from per-category word
lists (modifier + item + variant); descriptions reuse each item's sentence so substring
search on words like "cotton" or "wireless" finds real matches.
"""
import random

SEED = 20250801
PER_CATEGORY = 120  # 10 categories x 120 = 1,200 products

CATEGORIES: list[dict] = [
    {"slug": "electronics", "name": "Electronics"},
    {"slug": "books", "name": "Books"},
    {"slug": "home-kitchen", "name": "Home & Kitchen"},
    {"slug": "garden", "name": "Garden"},
    {"slug": "sports-outdoors", "name": "Sports & Outdoors"},
    {"slug": "toys-games", "name": "Toys & Games"},
    {"slug": "clothing", "name": "Clothing"},
    {"slug": "beauty", "name": "Beauty"},
    {"slug": "grocery", "name": "Grocery"},
    {"slug": "office", "name": "Office"},
]

# An item: (noun, sentence about it, (min, max) price in whole dollars, (min, max) shipping
# weight in grams, variants). A variant is (suffix appended to the name, percent applied to
# price and weight), so "26 cm" can cost and weigh more than "20 cm".
_COLOURS = [(", Black", 100), (", White", 100), (", Graphite", 100)]
_SIZES = [(", Size S", 100), (", Size M", 100), (", Size L", 100), (", Size XL", 105)]
_ONE = [("", 100)]

# Per category: SKU prefix, name modifiers, items, closing sentences, name format.
_CATALOG: dict[str, dict] = {
    "electronics": {
        "prefix": "ELE",
        "mods": ["Compact", "Portable", "Essential", "Pro", "Ultra-Slim", "Rugged", "Classic",
                 "Mini", "Premium", "Everyday", "Studio", "Travel"],
        "items": [
            ("Wireless Earbuds", "Bluetooth 5.3 wireless earbuds with a pocket-size charging case, made for commuting and workouts.", (19, 149), (40, 90), _COLOURS),
            ("Noise-Cancelling Headphones", "Over-ear Bluetooth headphones with active noise cancelling and soft memory-foam cushions for long flights.", (49, 349), (220, 380), _COLOURS),
            ("USB-C Charger", "Fast GaN wall charger with USB-C power delivery for phones, tablets and laptops.", (15, 39), (60, 120), [(" 30 W", 100), (" 65 W", 140), (" 100 W", 190)]),
            ("Power Bank", "Slim lithium-polymer power bank with USB-C input and output, handy for travel and camping.", (19, 29), (180, 260), [(" 10000 mAh", 100), (" 20000 mAh", 160)]),
            ("Bluetooth Speaker", "Waterproof Bluetooth speaker with a rubberised aluminium body, built for the beach, the garden and the shower.", (24, 129), (300, 900), _COLOURS),
            ("Webcam", "USB webcam with autofocus and a dual microphone for video calls and streaming.", (29, 99), (150, 250), [(" 1080p", 100), (" 4K", 180)]),
            ("Mechanical Keyboard", "Mechanical keyboard with hot-swappable switches, an aluminium frame and a detachable USB-C cable.", (49, 159), (700, 1100), _COLOURS),
            ("Wireless Mouse", "Ergonomic wireless mouse with a silent click and a rechargeable battery that lasts for weeks.", (14, 69), (80, 140), _COLOURS),
            ("Smartwatch", "Fitness smartwatch with heart-rate tracking, GPS and a bright AMOLED screen, water resistant to 50 m.", (79, 299), (60, 120), _COLOURS),
            ("HDMI Cable", "High-speed HDMI 2.1 cable with braided nylon sleeve, supports 4K at 120 Hz for TVs and monitors.", (8, 14), (60, 90), [(" 1 m", 100), (" 2 m", 130), (" 3 m", 160)]),
        ],
        "extras": ["Ships with a two-year warranty.", "Works with Android, iOS, Windows and macOS.",
                   "Comes in recyclable packaging.", "Energy-efficient and built to last."],
    },
    "books": {
        "prefix": "BOO",
        # Titles: every "The <adjective> <noun>" pair; each title is used once (unique_mod).
        "mods": [f"The {adj} {noun}" for adj in
                 ["Silent", "Hidden", "Golden", "Last", "Northern", "Broken", "Winter",
                  "Forgotten", "Wild", "Quiet", "Burning", "Secret"]
                 for noun in ["River", "Garden", "Harbor", "Kingdom", "Orchard", "Lighthouse",
                              "Mountain", "Library", "Island", "Forest", "Compass", "Station"]],
        "format": "{mod}: {noun}{variant}",
        "items": [
            ("A Mystery Novel", "A gripping mystery novel about a detective, a small town and a secret nobody wants told.", (9, 19), (250, 450), [(" (Paperback)", 100), (" (Hardcover)", 170)]),
            ("A Science Fiction Novel", "A science fiction novel of starships, strange planets and the people who leave Earth behind.", (9, 19), (280, 500), [(" (Paperback)", 100), (" (Hardcover)", 170)]),
            ("A Cookbook", "A cookbook with over 100 seasonal recipes, from weeknight dinners to slow Sunday baking.", (19, 39), (700, 1200), [(" (Paperback)", 100), (" (Hardcover)", 140)]),
            ("A Field Guide", "A field guide to birds, trees and wildflowers, with colour photographs for hiking and travel.", (14, 29), (350, 600), [(" (Paperback)", 100), (" (Hardcover)", 150)]),
            ("A History", "A narrative history of trade, empire and ordinary lives, drawn from letters and maps.", (14, 34), (450, 800), [(" (Paperback)", 100), (" (Hardcover)", 160)]),
            ("A Children's Picture Book", "An illustrated picture book for kids aged 3 to 7, with a bedtime story about friendship.", (7, 16), (250, 450), [(" (Paperback)", 100), (" (Hardcover)", 150)]),
            ("A Poetry Collection", "A poetry collection about seasons, family and memory, printed on cream paper.", (9, 19), (180, 300), [(" (Paperback)", 100), (" (Hardcover)", 160)]),
            ("A Travel Guide", "A travel guide with maps, walking routes and tips on where to eat and stay.", (12, 24), (300, 500), [(" (Paperback)", 100)]),
            ("A Gardening Handbook", "A practical gardening handbook on soil, compost, pruning and growing vegetables.", (12, 29), (400, 700), [(" (Paperback)", 100), (" (Hardcover)", 150)]),
        ],
        "unique_mod": True,
        "extras": ["Printed on acid-free paper.", "A bestseller in its first year.",
                   "Includes a reading group guide.", "Translated into twelve languages."],
    },
    "home-kitchen": {
        "prefix": "HOM",
        "mods": ["Classic", "Everyday", "Professional", "Nordic", "Rustic", "Modern", "Heritage",
                 "Essential", "Stackable", "Deluxe", "Minimalist", "Family"],
        "items": [
            ("Cast Iron Skillet", "Pre-seasoned cast iron skillet for searing, frying and baking, safe on induction and in the oven.", (24, 59), (1800, 3200), [(" 20 cm", 75), (" 26 cm", 100), (" 30 cm", 130)]),
            ("Stainless Steel Saucepan", "Stainless steel saucepan with a glass lid and a heavy aluminium-core base for even heat.", (19, 49), (900, 1500), [(" 16 cm", 85), (" 20 cm", 100)]),
            ("Ceramic Dinner Plate Set", "Glazed ceramic dinner plates, dishwasher and microwave safe, for everyday meals.", (24, 59), (2000, 3000), [(", 4 Pieces", 100), (", 6 Pieces", 145)]),
            ("Santoku Knife", "Santoku knife forged from high-carbon stainless steel with a walnut wood handle.", (29, 89), (200, 320), [(" 14 cm", 90), (" 18 cm", 100)]),
            ("Bamboo Cutting Board", "Bamboo cutting board with a juice groove, gentle on knife edges and easy to clean.", (12, 29), (600, 1200), [(", Small", 80), (", Large", 120)]),
            ("French Press Coffee Maker", "Borosilicate glass French press coffee maker with a stainless steel filter.", (19, 39), (400, 800), [(" 350 ml", 80), (" 1 l", 120)]),
            ("Glass Food Storage Containers", "Glass food storage containers with airtight lids, oven safe and freezer safe.", (19, 39), (1500, 2500), [(", Set of 3", 100), (", Set of 5", 150)]),
            ("Linen Tea Towels", "Stonewashed linen tea towels, absorbent and quick-drying.", (12, 24), (150, 250), [(", Pack of 2", 100), (", Pack of 4", 180)]),
            ("Electric Kettle", "Electric kettle with a stainless steel body, auto shut-off and temperature control for tea and coffee.", (29, 79), (1000, 1500), [(" 1.7 l", 100)]),
            ("Non-Stick Frying Pan", "Non-stick frying pan with a PFAS-free ceramic coating for eggs, pancakes and fish.", (19, 49), (700, 1200), [(" 24 cm", 90), (" 28 cm", 110)]),
        ],
        "extras": ["Dishwasher safe.", "Backed by a lifetime guarantee.",
                   "Designed in Denmark.", "Makes a practical housewarming gift."],
    },
    "garden": {
        "prefix": "GAR",
        "mods": ["Heavy-Duty", "Ergonomic", "Weatherproof", "Lightweight", "Classic", "Compact",
                 "Premium", "Rustic", "Everyday", "Professional", "Deluxe", "Sturdy"],
        "items": [
            ("Garden Hose", "Flexible garden hose with brass fittings and a kink-free rubber core for watering lawns and beds.", (24, 69), (1500, 3000), [(" 15 m", 100), (" 30 m", 170)]),
            ("Pruning Shears", "Bypass pruning shears with hardened steel blades for roses, shrubs and fruit trees.", (14, 39), (200, 320), _ONE),
            ("Watering Can", "Galvanised steel watering can with a removable brass rose for seedlings and pots.", (19, 44), (800, 1600), [(" 5 l", 100), (" 10 l", 150)]),
            ("Raised Garden Bed", "Raised garden bed made of untreated cedar wood for vegetables, herbs and flowers.", (49, 149), (8000, 15000), [(" 120 cm", 100), (" 180 cm", 140)]),
            ("Solar Path Lights", "Solar path lights with warm white LEDs that switch on at dusk, no wiring needed.", (19, 49), (800, 1500), [(", Pack of 6", 100), (", Pack of 12", 180)]),
            ("Bird Feeder", "Hanging bird feeder made of recycled plastic and steel, squirrel resistant.", (14, 39), (500, 1000), _ONE),
            ("Gardening Gloves", "Gardening gloves with breathable bamboo fabric and a nitrile palm for thorns and soil.", (8, 19), (80, 150), [(", Size S", 100), (", Size M", 100), (", Size L", 100)]),
            ("Compost Bin", "Compost bin made of recycled plastic with a sliding hatch to collect finished compost.", (39, 99), (5000, 9000), [(" 220 l", 100), (" 330 l", 130)]),
            ("Terracotta Plant Pot", "Frost-resistant terracotta plant pot with a drainage hole for herbs, flowers and citrus trees.", (9, 34), (900, 2500), [(" 20 cm", 70), (" 30 cm", 100), (" 40 cm", 150)]),
            ("Lawn Sprinkler", "Oscillating lawn sprinkler with adjustable range, covers up to 300 square metres.", (19, 49), (600, 1100), _ONE),
        ],
        "extras": ["Built for all seasons.", "Backed by a five-year warranty.",
                   "Made in Europe.", "Easy to assemble without tools."],
    },
    "sports-outdoors": {
        "prefix": "SPO",
        "mods": ["Ultralight", "Trail", "Pro", "All-Weather", "Compact", "Adventure",
                 "Performance", "Classic", "Summit", "Expedition", "Everyday", "Rugged"],
        "items": [
            ("Yoga Mat", "Non-slip yoga mat made of natural rubber, cushioned for yoga, pilates and stretching.", (24, 79), (1200, 2500), [(" 4 mm", 90), (" 6 mm", 110)]),
            ("Camping Tent", "Waterproof camping tent with aluminium poles and a ripstop nylon fly for hiking trips.", (79, 299), (1500, 4500), [(", 2-Person", 100), (", 4-Person", 160)]),
            ("Hiking Backpack", "Hiking backpack with a ventilated back panel, rain cover and hydration sleeve.", (49, 159), (900, 1600), [(" 30 l", 100), (" 45 l", 125)]),
            ("Sleeping Bag", "Mummy sleeping bag with synthetic insulation, rated for camping down to -5 °C.", (49, 149), (1100, 1800), _ONE),
            ("Insulated Water Bottle", "Double-wall stainless steel water bottle that keeps drinks cold for 24 hours.", (19, 39), (300, 450), [(" 500 ml", 100), (" 750 ml", 120)]),
            ("Trekking Poles", "Collapsible carbon fibre trekking poles with cork grips, a pair.", (39, 119), (450, 600), _ONE),
            ("Resistance Bands Set", "Latex resistance bands in five strengths with handles and a door anchor for home workouts.", (14, 34), (400, 700), _ONE),
            ("Cycling Helmet", "Lightweight cycling helmet with an in-mould shell, MIPS protection and a rear LED light.", (39, 149), (280, 400), [(", Size M", 100), (", Size L", 105)]),
            ("Adjustable Dumbbell", "Adjustable dumbbell with steel plates and a quick dial for strength training at home.", (79, 249), (20500, 22000), [(" 10 kg", 55), (" 20 kg", 100)]),
            ("Running Headlamp", "Rechargeable running headlamp, 400 lumens, with a red night mode for trail running and camping.", (19, 49), (80, 140), _ONE),
        ],
        "extras": ["Tested in the Alps.", "Comes with a carry bag.",
                   "Backed by a two-year warranty.", "Built for outdoor use in any weather."],
    },
    "toys-games": {
        "prefix": "TOY",
        "mods": ["Classic", "Deluxe", "Junior", "Family", "Travel", "Mini", "Giant", "Rainbow",
                 "Adventure", "Creative", "Super", "Cosmic"],
        "items": [
            ("Jigsaw Puzzle", "Jigsaw puzzle printed on thick recycled cardboard with a poster for reference.", (12, 29), (500, 1100), [(", 500 Pieces", 100), (", 1000 Pieces", 140)]),
            ("Building Blocks Set", "Building blocks set compatible with major brands, for kids aged 6 and up.", (19, 79), (600, 1500), [(", 250 Pieces", 100), (", 500 Pieces", 170)]),
            ("Board Game", "Strategy board game for 2 to 5 players, about 45 minutes per game night.", (24, 59), (900, 1600), _ONE),
            ("Card Game", "Fast card game for the whole family, easy to learn in five minutes.", (9, 19), (150, 300), _ONE),
            ("Plush Bear", "Soft plush bear made of organic cotton, machine washable, a cuddly gift for babies and kids.", (14, 39), (200, 500), [(" 25 cm", 100), (" 40 cm", 160)]),
            ("Remote Control Car", "Remote control car with a rechargeable battery and 2.4 GHz controller, fast on any surface.", (29, 89), (700, 1400), _ONE),
            ("Science Kit", "Science kit with 30 experiments about chemistry and magnets, for curious kids aged 8 and up.", (19, 49), (800, 1300), _ONE),
            ("Wooden Train Set", "Wooden train set made of beech wood with tracks, a bridge and magnetic carriages.", (29, 89), (1500, 3000), _ONE),
            ("Art and Craft Kit", "Art and craft kit with paints, crayons, paper and glue for rainy-day projects.", (14, 39), (800, 1500), _ONE),
            ("Kite", "Ripstop nylon kite with fibreglass rods and 50 m of line, easy to fly at the beach or park.", (14, 39), (250, 450), _ONE),
        ],
        "extras": ["Non-toxic and safety tested.", "A great birthday gift.",
                   "Comes in a sturdy storage box.", "Encourages creativity and play."],
    },
    "clothing": {
        "prefix": "CLO",
        # Colours as modifiers: "Navy Merino Wool Sweater, Size M".
        "mods": ["Black", "Navy", "Charcoal", "Olive", "Burgundy", "White", "Sand",
                 "Forest Green", "Sky Blue", "Heather Grey", "Rust", "Cream"],
        "items": [
            ("Cotton T-Shirt", "Crew-neck T-shirt made of soft organic cotton jersey, pre-shrunk.", (12, 29), (150, 250), _SIZES),
            ("Merino Wool Sweater", "Fine-knit merino wool sweater, warm, breathable and itch-free.", (49, 119), (300, 450), _SIZES),
            ("Rain Jacket", "Waterproof rain jacket with taped seams and a packable hood, made of recycled polyester.", (59, 179), (350, 600), _SIZES),
            ("Denim Jeans", "Straight-leg jeans in stretch cotton denim with a classic five-pocket cut.", (39, 99), (550, 800), _SIZES),
            ("Chino Trousers", "Chino trousers made of cotton twill, smart enough for the office.", (34, 79), (400, 600), _SIZES),
            ("Linen Shirt", "Relaxed linen shirt with mother-of-pearl buttons, cool for summer.", (34, 79), (200, 300), _SIZES),
            ("Fleece Hoodie", "Zip-up fleece hoodie made of recycled polyester, warm for hiking and lounging.", (29, 69), (400, 650), _SIZES),
            ("Leather Belt", "Full-grain leather belt with a brushed steel buckle.", (24, 59), (150, 250), [(", 90 cm", 100), (", 100 cm", 100), (", 110 cm", 100)]),
            ("Wool Socks", "Cushioned wool socks for hiking boots and cold days.", (12, 24), (100, 180), [(", 3 Pairs", 100), (", 6 Pairs", 180)]),
        ],
        "extras": ["Machine washable at 30 °C.", "Ethically made in Portugal.",
                   "True to size.", "Free returns within 30 days."],
    },
    "beauty": {
        "prefix": "BEA",
        "mods": ["Hydrating", "Gentle", "Nourishing", "Revitalizing", "Soothing", "Brightening",
                 "Daily", "Natural", "Fresh", "Pure", "Botanical", "Calming"],
        "items": [
            ("Face Moisturizer", "Lightweight face moisturizer with hyaluronic acid and aloe vera for all skin types.", (14, 49), (80, 150), [(" 50 ml", 100)]),
            ("Shampoo", "Sulfate-free shampoo with argan oil and rosemary for soft, shiny hair.", (8, 19), (300, 600), [(" 250 ml", 100), (" 500 ml", 180)]),
            ("Conditioner", "Silicone-free conditioner with shea butter that detangles without weighing hair down.", (8, 19), (300, 600), [(" 250 ml", 100), (" 500 ml", 180)]),
            ("Body Lotion", "Fast-absorbing body lotion with shea butter and coconut oil for dry skin.", (9, 24), (300, 550), [(" 200 ml", 100), (" 400 ml", 170)]),
            ("Facial Cleanser", "Foaming facial cleanser with green tea extract that removes makeup and sunscreen.", (9, 29), (180, 300), [(" 150 ml", 100)]),
            ("Lip Balm", "Beeswax lip balm with vitamin E for chapped lips.", (3, 8), (20, 40), [(", Single", 100), (", Pack of 3", 250)]),
            ("Hand Cream", "Rich hand cream with almond oil and glycerin, non-greasy.", (6, 16), (90, 140), [(" 75 ml", 100)]),
            ("Sunscreen", "Water-resistant mineral sunscreen with zinc oxide, fragrance-free for sensitive skin.", (12, 29), (120, 220), [(" SPF 30", 100), (" SPF 50", 110)]),
            ("Argan Hair Oil", "Cold-pressed argan hair oil that tames frizz and protects against heat styling.", (12, 34), (120, 200), [(" 100 ml", 100)]),
            ("Clay Face Mask", "Purifying clay face mask with kaolin and charcoal to clear pores.", (12, 29), (120, 200), [(" 75 ml", 100)]),
        ],
        "extras": ["Vegan and cruelty-free.", "Dermatologically tested.",
                   "Packaged in recycled plastic.", "Free from parabens."],
    },
    "grocery": {
        "prefix": "GRO",
        "mods": ["Organic", "Fair Trade", "Premium", "Artisan", "Classic", "Everyday", "Family",
                 "Gourmet"],
        "items": [
            ("Darjeeling Tea", "Loose-leaf black tea from the Darjeeling hills with a light, floral taste.", (6, 14), (270, 320), [(" 100 g", 50), (" 250 g", 100), (" 500 g", 190)]),
            ("Earl Grey Tea", "Black tea with natural bergamot oil, in biodegradable tea bags.", (4, 9), (150, 250), [(", 20 Bags", 100), (", 50 Bags", 220)]),
            ("Arabica Coffee Beans", "Whole arabica coffee beans, medium roast with notes of chocolate and caramel.", (9, 19), (270, 300), [(" 250 g", 100), (" 500 g", 190), (" 1 kg", 360)]),
            ("Dark Chocolate Bar", "Dark chocolate with 70% cocoa, made from single-origin beans.", (2, 5), (110, 130), [(" 100 g", 100), (", Pack of 5", 480)]),
            ("Extra Virgin Olive Oil", "Cold-pressed extra virgin olive oil from Greek olives, for salads and cooking.", (9, 19), (500, 600), [(" 500 ml", 100), (" 1 l", 190)]),
            ("Wildflower Honey", "Raw wildflower honey, unheated and unfiltered, in a glass jar.", (6, 14), (500, 600), [(" 250 g", 60), (" 500 g", 100)]),
            ("Rolled Oats", "Wholegrain rolled oats for porridge, granola and baking.", (3, 6), (520, 560), [(" 500 g", 100), (" 1 kg", 190)]),
            ("Basmati Rice", "Aged long-grain basmati rice with a fragrant aroma.", (3, 8), (1020, 1080), [(" 1 kg", 100), (" 2 kg", 195)]),
            ("Roasted Almonds", "Dry-roasted almonds, lightly salted, a crunchy snack.", (5, 12), (260, 300), [(" 250 g", 100), (" 500 g", 190)]),
            ("Durum Wheat Spaghetti", "Bronze-cut spaghetti made from durum wheat semolina in Italy.", (2, 5), (520, 560), [(" 500 g", 100), (" 1 kg", 190)]),
            ("Maple Syrup", "Pure maple syrup from Quebec, Grade A amber, for pancakes and baking.", (9, 19), (350, 450), [(" 250 ml", 100), (" 500 ml", 185)]),
            ("Matcha Green Tea Powder", "Ceremonial-grade matcha green tea powder from Japan for lattes and baking.", (14, 29), (60, 90), [(" 30 g", 100), (" 100 g", 280)]),
        ],
        "extras": ["Best before date at least six months ahead.", "Store in a cool, dry place.",
                   "Suitable for vegetarians.", "Packed in a resealable bag."],
    },
    "office": {
        "prefix": "OFF",
        "mods": ["Classic", "Executive", "Everyday", "Minimalist", "Premium", "Compact",
                 "Recycled", "Professional", "Essential", "Studio", "Modern", "Signature"],
        "items": [
            ("Dotted Notebook", "Hardcover dotted notebook with 160 pages of fountain-pen-friendly paper and a ribbon marker.", (9, 24), (250, 450), [(" A5", 100), (" A4", 170)]),
            ("Gel Pens", "Smooth gel pens with quick-drying ink in assorted colours.", (6, 16), (100, 200), [(", Pack of 10", 100), (", Pack of 20", 180)]),
            ("Desk Organizer", "Desk organizer made of bamboo with compartments for pens, phones and sticky notes.", (19, 49), (700, 1300), _ONE),
            ("Stapler", "Heavy-duty metal stapler that staples up to 40 sheets, with 1,000 staples included.", (9, 29), (300, 600), _ONE),
            ("Sticky Notes", "Sticky notes in pastel colours that peel off cleanly from paper and screens.", (4, 12), (200, 450), [(", 6 Pads", 100), (", 12 Pads", 190)]),
            ("Monitor Stand", "Monitor stand made of walnut wood and steel with storage underneath for a keyboard.", (29, 79), (2000, 3500), _ONE),
            ("Office Chair", "Ergonomic office chair with lumbar support, breathable mesh back and adjustable armrests.", (129, 399), (14000, 19000), _ONE),
            ("Document Folders", "Document folders made of recycled cardboard with elastic closures, A4 size.", (6, 16), (400, 800), [(", Pack of 5", 100), (", Pack of 10", 180)]),
            ("Whiteboard", "Magnetic whiteboard with an aluminium frame, marker tray and wall fixings.", (24, 79), (2500, 6000), [(" 60 x 45 cm", 100), (" 90 x 60 cm", 160)]),
            ("Desk Lamp", "LED desk lamp with dimmable warm light and a USB charging port.", (24, 69), (800, 1500), _ONE),
            ("Fountain Pen", "Steel-nib fountain pen with a brass body and an ink converter, for calligraphy and notes.", (19, 89), (40, 90), _ONE),
            ("Paper Shredder", "Cross-cut paper shredder for 8 sheets at a time, also shreds credit cards.", (49, 129), (4000, 7000), _ONE),
        ],
        "extras": ["Great for the home office.", "Made from sustainable materials.",
                   "Backed by a three-year warranty.", "Ships in plastic-free packaging."],
    },
}

# Single words (no spaces, so they need no URL quoting) that occur in names or descriptions
# above; the load tests search for them.
SEARCH_TERMS: list[str] = [
    "wireless", "bluetooth", "usb", "charger", "headphones", "novel", "cookbook", "recipes",
    "skillet", "steel", "ceramic", "bamboo", "coffee", "tea", "organic", "cotton",
    "wool", "leather", "linen", "garden", "solar", "camping", "yoga", "hiking", "puzzle",
    "kids", "shampoo", "sunscreen", "chocolate", "notebook", "recycled", "waterproof",
]


def _names(rng: random.Random, spec: dict, taken: set[str]) -> list[tuple[str, tuple, tuple]]:
    """PER_CATEGORY unique (name, item, variant) picks for one category, in a seeded order."""
    fmt = spec.get("format", "{mod} {noun}{variant}")
    combos = [(mod, item, variant) for item in spec["items"] for mod in spec["mods"]
              for variant in item[4]]
    rng.shuffle(combos)
    picked, used_mods = [], set()
    for mod, item, variant in combos:
        name = fmt.format(mod=mod, noun=item[0], variant=variant[0])
        # `taken` and `used_mods` are only looked up, never iterated, so order stays seeded.
        if name in taken or (spec.get("unique_mod") and mod in used_mods):
            continue
        taken.add(name)
        used_mods.add(mod)
        picked.append((name, item, variant))
        if len(picked) == PER_CATEGORY:
            return picked
    raise ValueError(f"not enough name combinations for prefix {spec['prefix']}")


def _price_cents(rng: random.Random, dollars: tuple[int, int], pct: int) -> int:
    whole = rng.randint(*dollars) * pct // 100
    # Retail-style endings: mostly .99, sometimes .49.
    return whole * 100 + (99 if rng.random() < 0.8 else 49)


def products() -> list[dict]:
    """The 1,200 seed products, ids 1..1200 in order; a new list each call, same content."""
    rng = random.Random(SEED)
    taken: set[str] = set()
    picks = {c["slug"]: _names(rng, _CATALOG[c["slug"]], taken) for c in CATEGORIES}

    # Interleave categories so id order (the API's default order) is a realistic mix.
    order = [c["slug"] for c in CATEGORIES for _ in range(PER_CATEGORY)]
    rng.shuffle(order)
    total = len(order)

    # Exact counts rather than per-product coin flips: 5% with low stock (1..5) so checkouts
    # hit out_of_stock, and another 1% sold out.
    scarce = rng.sample(range(1, total + 1), total * 6 // 100)
    zero = set(scarce[: total // 100])
    low = set(scarce[total // 100:])

    result, next_pick = [], {slug: 0 for slug in picks}
    for product_id, slug in enumerate(order, start=1):
        spec = _CATALOG[slug]
        name, item, (_, pct) = picks[slug][next_pick[slug]]
        next_pick[slug] += 1
        if product_id in zero:
            stock = 0
        elif product_id in low:
            stock = rng.randint(1, 5)
        else:
            stock = rng.randint(20, 500)
        result.append({
            "id": product_id,
            "sku": f"{spec['prefix']}-{product_id:06d}",
            "name": name,
            "description": f"{item[1]} {rng.choice(spec['extras'])}",
            "category": slug,
            "price_cents": _price_cents(rng, item[2], pct),
            "stock": stock,
            "weight_grams": max(1, rng.randint(*item[3]) * pct // 100),
        })
    return result
