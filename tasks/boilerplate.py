"""A line-level boilerplate filter over the families of lines news pages share.

Extractors keep a block's lines together, so a share bar, a byline or an "Also read" link set
inside the article body survives into the text. Each family below is a pattern over one short
line; long lines are prose and are never dropped, whatever words they contain, unless they are
notices made of such lines (`is_notice_paragraph`).
"""

from __future__ import annotations

import re
from functools import partial

# A line longer than this many words is prose, never boilerplate.
MAX_WORDS = 30
# A paragraph longer than this is prose even when it opens like a notice; inside one, a sentence
# of up to this many words is read for boilerplate (a notice's sentences run longer than its lines).
MAX_NOTICE_WORDS, MAX_NOTICE_SENTENCE_WORDS = 150, 45
# Families that open a notice paragraph: "Disclosure: this post contains affiliate links. ..."
NOTICE_FAMILIES = {"affiliate", "advert", "call_to_action", "cookie", "newsletter", "follow", "feedback", "legal", "copyright"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")

_SOCIAL = (
    r"(?:facebook|twitter|x|linkedin|whatsapp|reddit|pinterest|email|e-mail|telegram|messenger|flipboard|"
    r"tumblr|threads|bluesky|mail|sms|print|copy link|copy|link)"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# A written date (and maybe a time); a line that is only one is a dateline: "March 4, 2025", "4 Mar 2025 10:15 GMT", "2025-03-04".
DATE = (
    rf"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[a-z]{2,4})?)?"
)
_DATE_WORDS = (
    r"(?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|today|yesterday|"
    r"hours? ago|minutes? ago|mins? ago|days? ago)"
)

FAMILIES: dict[str, re.Pattern] = {
    "share": re.compile(
        rf"^(?:(?:share|tweet|pin|send|post|save|print|email)(?: (?:this|the) (?:article|story|page|post))?"
        rf"(?: (?:on|via|to|with) {_SOCIAL})?|(?:{_SOCIAL}[\s,|·•/]*)+|share (?:this|the) (?:article|story)|"
        rf"(?:click|tap) to share\b.*|share (?:via|on)\b.*|\d+ shares?|shares?)[\s:!.]*$",
        re.IGNORECASE,
    ),
    "byline": re.compile(
        r"^(?:(?:written|reported|words|story|text|posted|published)\s+)?by[\s:]+"
        r"(?-i:[A-ZÀ-Þ][\w.'’\-]*(?:(?:\s+|\s*,\s*|\s+and\s+|\s*&\s*)[A-ZÀ-Þ][\w.'’\-]*){1,6})"
        r"(?:\s*[|,\-–—]\s*.{0,60}|\s+(?:on|at)\s+.{0,40})?$",
        re.IGNORECASE,
    ),
    "dateline": re.compile(
        rf"^(?:(?:(?:last\s+)?updated|published|posted|modified|first published|created|updated on|published on)"
        rf"(?:\s+on|\s+at)?\s*[:\-–]?\s*{_DATE_WORDS}.{{0,80}}|{DATE})$",
        re.IGNORECASE,
    ),
    "reading_time": re.compile(
        r"^(?:\d+\s*(?:-\s*\d+\s*)?min(?:ute)?s?\.?\s*(?:read|reading|listen)(?:ing)?(?: time)?|"
        r"(?:estimated\s+)?reading time\s*:?.{0,20})\W*$",
        re.IGNORECASE,
    ),
    "also_read": re.compile(
        r"^(?:(?:also read|read also|see also|also on [\w.-]+\.[a-z]{2,})\b.{0,200}|"
        r"(?:read more|more to read|"
        r"(?:browse |view |see )?related(?: articles?| stories| coverage| news| content| reading| posts?| links?)?|"
        r"recommended(?: for you| stories| reading)?|you may also like|you might (?:also )?like|don'?t miss|must read|"
        r"more from [\w .]{1,40}|more on this(?: story)?|more stories|further reading|trending(?: now)?|"
        r"popular(?: now| stories)?|most (?:read|popular|viewed)|editor'?s picks?|top stories|latest(?: news| stories)?|"
        r"watch(?: now| video| live)?|continue reading|read next|up next|listen(?: to (?:this|the) (?:article|story))?|"
        r"read the full (?:story|article)|click here.{0,100})(?:\s*[:|»>\-–—]\s*.{0,200}|\W*))$",
        re.IGNORECASE,
    ),
    "newsletter": re.compile(
        r"(?:^(?:sign(?:ing)? up|subscribe)\b.{0,80}\b(?:newsletters?|inbox|e-?mail alerts|briefing)\b|"
        r"^(?:our |the |a )?\w*\s?newsletters?\b.{0,60}\b(?:sign up|subscribe|inbox|delivered)\b|"
        r"delivered (?:straight |directly )?to your inbox|^enter your e-?mail|^(?:your )?e-?mail(?: address)?\W*$|"
        r"^subscribe(?: now| today| for| to)?\b|thanks? for (?:signing up|subscribing)|"
        r"^by (?:signing up|subscribing|clicking)\b|"
        r"^(?:join|get|subscribe to|sign up for) (?:our |the |my )?[\w' ]{0,40}(?:newsletter|mailing list)\W*$|"
        r"^(?:newsletter|sign up|sign in|log ?in|register|subscribe)\W*$|receive notifications about new|"
        # anywhere in a short line: "For daily wit, sign up for the Almanac newsletter."
        r"\b(?:sign(?:ing)? up for|subscribe to|join) (?:our|my|the)\b[^.!?]{0,40}\b(?:newsletters?|mailing list)\b|"
        r"\b(?:into|to|in) your inbox\b|\bunsubscribe (?:at )?any ?time\b|^unsubscribe\b|"
        # a blog platform's follow and referral prompts: "Join X for free to get updates from this writer."
        r"\bget updates from (?:this|the) (?:writer|author|publication)\b|\btell your friends and (?:get|earn) rewards\b)",
        re.IGNORECASE,
    ),
    "credit": re.compile(
        r"(?:^(?:photo|image|picture|photograph|illustration|credit|caption|file photo|pictured)s?"
        r"(?:\s+credit)?\s*(?:[:|]|/\s*(?-i:[A-Z]))|"  # "Photo: ...", "Photo/AP", not "Credit/debit cards"
        r"^\(?(?:featured? )?(?:photo|image|picture)s?\s+(?:by|via|courtesy|credit)\b|"
        r"(?:getty images|ap photo|afp via getty|shutterstock|istock(?:photo)?|reuters/|/reuters|afp photo|epa-efe|"
        r"alamy|via getty|courtesy of [\w .]+|file photo)\W*\)?\s*$)",
        re.IGNORECASE,
    ),
    "cookie": re.compile(
        r"(?:\b(?:this|our) (?:web)?site uses cookies|\bwe (?:and our partners )?(?:use|store) (?:cookies|technologies)|"
        r"\bcookie (?:policy|settings|preferences|consent|notice)|\b(?:accept|reject|manage|allow)(?: all)? cookies|"
        r"by continuing to (?:use|browse)|your privacy choices|do not sell (?:or share )?my)",
        re.IGNORECASE,
    ),
    "advert": re.compile(
        r"^(?:advertisement|advertising|ad|sponsored(?: content)?|promoted|paid content|partner content|"
        r"story continues below(?: advertisement)?|article continues (?:below|after (?:this )?advertisement)|"
        r"advertisement\W+(?:continue|scroll) (?:reading|to continue).*|scroll to continue(?: with content)?|"
        r"advertisement\s*:.{0,60}|"
        r"this (?:article|story|post) (?:contains|may contain) affiliate links.*)\W*$",
        re.IGNORECASE,
    ),
    "affiliate": re.compile(
        r"\b(?:we|i|(?:this )?site) (?:may )?(?:earn|receive|get) (?:a )?(?:small )?(?:commission|compensation)|"
        r"\b(?:if|when) you (?:buy|purchase|shop|click)\b.{0,40}\b(?:our|these|the|retail|affiliate) links?\b|"
        r"\b(?:contains?|uses?) affiliate links|\bas an amazon associate\b|\bwe may be compensated\b|"
        r"\bearn from qualifying purchases\b",
        re.IGNORECASE,
    ),
    "call_to_action": re.compile(
        r"^(?:book|request|schedule|get|start) (?:a |an |your )?(?:free )?(?:demo|quote|consultation|trial)\b.{0,40}$|"
        r"\btalk to (?:our|an?) [\w ]{0,40}experts?\b|^fill out (?:the|this|our) form\b|"
        r"\b(?:leave|give) (?:a |us a )?(?:star )?rating\b|\bfunded by readers\b|"
        r"\bsupport (?:our|independent|local) journalism\b|\b(?:get|save|take) \$?\d+%? off\b.{0,40}\bcode\b|"
        r"^get started with (?:one of )?our\b.{0,40}$|"
        # asks to share, rate, comment on or pay for what was just read
        r"\bif you (?:liked|enjoyed|like|enjoy) this (?:article|post|story|piece|episode|podcast|newsletter|recipe)\b"
        r"[^.!?]{0,40}\b(?:shar|subscrib|lik|support|consider)|\bhelp (?:me|us) spread the word\b|"
        r"\bplease (?:feel free to )?leave a (?:comment|review)\b|"
        r"\bplease consider (?:a |making a )?(?:one-off |one-time |small )?donation\b|"
        r"^share your (?:story|stories|news tips?|tips?)\W*$",
        re.IGNORECASE,
    ),
    "feedback": re.compile(
        r"^(?:was this (?:article|page|post|story|information) (?:helpful|useful)|"
        r"(?:did you find|do you find) this (?:article |page |post )?(?:helpful|useful)|"
        r"how (?:was|did you like|would you rate) this (?:issue|article|story|newsletter)|"
        r"why (?:you can )?trust us)\W*$|"
        r"\bdid you (?:make|try|cook|bake) (?:this|one of (?:my|our|these)) (?:recipes?|dish(?:es)?)\b",
        re.IGNORECASE,
    ),
    "comments": re.compile(
        r"^(?:\d+\s+)?(?:comments?|leave a (?:comment|reply)|post a comment|add a comment|join the (?:conversation|discussion)|"
        r"show comments|view comments|comments? \(\d+\)|\d+ comments?|reply|report|log in to comment|"
        r"you must be logged in to post a comment.*|be the first to comment.*|comments are closed.*)\W*$",
        re.IGNORECASE,
    ),
    "follow": re.compile(
        r"^(?:follow us\W*|follow (?:us|me|@\w+|[\w .’'&-]{0,40}) on "
        r"(?:twitter|x|facebook|instagram|linkedin|threads|google news|whatsapp|telegram|youtube).*|"
        r"(?:like|follow) us on .{0,60}|get (?:the )?(?:latest )?news on whatsapp.*)$|"
        r"\bfollow us on (?:twitter|x|facebook|instagram|linkedin|threads|tiktok|youtube)\b|"
        r"\bjoin (?:our|the) (?:facebook|whatsapp|telegram|discord|linkedin) (?:group|page|channel|community)\b|"
        r"\badd [\w .&'’-]{1,40} as an? (?:preferred|trusted) source\b",
        re.IGNORECASE,
    ),
    "contact": re.compile(
        r"^(?:write to|contact|e-?mail) (?:the (?:author|writer|reporter)|[\w .'’-]{2,60}) at \S+@\S+\.\w+\W*$",
        re.IGNORECASE,
    ),
    "copyright": re.compile(
        r"^(?:©|\(c\)|copyright\s*(?:©|\(c\)|\d{4})).{0,120}$|all rights reserved\W*$|"
        r"^copyright\s+[\w .&'’-]{1,40}\s+\d{4}(?:\s*[-–|].{0,60})?$",
        re.IGNORECASE,
    ),
    "legal": re.compile(
        r"^(?:(?:copyright|privacy policy|privacy|terms(?: of (?:use|service))?|terms (?:and|&) conditions|"
        r"advertiser disclosure|advertising policy|editorial (?:policy|guidelines)|affiliate disclosure)\W*|"
        r"products are (?:chosen|selected) independently.{0,120}|"
        r"this copy is for your personal,? non-?commercial use only.*|terms apply\b.{0,60}|"
        r"(?:see|read|visit|view|review) our (?:privacy policy|terms(?: of (?:use|service))?|cookie policy)\W*)$|"
        r"\breprinted (?:here )?(?:with|by) (?:kind )?permission\b|"
        # the consent printed under a sign-up form
        r"\b(?:terms of submitting|by submitting) this form\b|\bmessage and data rates may apply\b|"
        r"\bmessage frequency (?:may )?var(?:y|ies)\b|\btext stop to\b|\bthis consent is not (?:required|a condition)\b",
        re.IGNORECASE,
    ),
    "navigation": re.compile(
        r"^(?:skip to (?:main )?(?:content|navigation)|back to top|home|menu|search|close|loading\W*|"
        r"(?:previous|next) (?:article|story|post)|go to (?:comments|top)|table of contents|contents|"
        r"jump to (?:the )?[\w ]{1,30}|back to [\w ]{1,30}|tags?|categories|category|blog|pin (?:it |this )?for later|"
        r"print(?: this)?(?: article| page| recipe)?|order reprints|text size|"
        r"(?:please )?select (?:which|the) sections (?:you would like )?to print|"
        r"an error has occurred.{0,40}|please try again later)\W*$",
        re.IGNORECASE,
    ),
}


def boilerplate_family(line: str, max_words: int = MAX_WORDS) -> str | None:
    """The family a short line belongs to ("share", "byline", ...), or None for content."""
    stripped = line.strip().strip("•·|*#>-–— ").strip()
    if not stripped:
        return None
    if len(stripped.split()) > max_words:
        return None
    for name, pattern in FAMILIES.items():
        if pattern.search(stripped):
            return name
    return None


def is_notice_paragraph(line: str) -> bool:
    """True for a paragraph of boilerplate sentences: it opens with a notice (an affiliate
    disclosure, a cookie notice, a newsletter call) and at least half its sentences are boilerplate,
    or it closes with one and more than half are ("X is a production of Y. If you liked this
    article, please share it. Please consider a donation.")."""
    if not MAX_WORDS < len(line.split()) <= MAX_NOTICE_WORDS:
        return False
    sentences = _SENTENCE_END.split(line.strip())
    family = partial(boilerplate_family, max_words=MAX_NOTICE_SENTENCE_WORDS)
    opens, closes = family(sentences[0]) in NOTICE_FAMILIES, family(sentences[-1]) in NOTICE_FAMILIES
    if not (opens or closes):  # most paragraphs: their other sentences need no reading
        return False
    notices = sum(family(sentence) is not None for sentence in sentences)
    return 2 * notices >= len(sentences) if opens else 2 * notices > len(sentences)


def remove_boilerplate(text: str) -> str:
    """The text without its boilerplate lines; blank-line paragraph breaks are kept as they were."""
    return "\n".join(line for line in text.split("\n") if boilerplate_family(line) is None and not is_notice_paragraph(line))
