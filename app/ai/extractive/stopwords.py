"""Words that carry no topic, for the extractive summariser's term lists."""

# The Cyrillic list is Cyrillic on purpose.
# ruff: noqa: RUF001

# Words that carry no topic: English function words and the fillers of speech.
_STOPWORDS_TEXT = """
    a about above after again against all almost along already also although always am
    among an and another any anybody anyone anything anyway anyways are aren't around as
    at away back be became because been before being below between both but by can can't
    cannot could couldn't did didn't do does doesn't doing don't done down during each
    either else enough even ever every everybody everyone everything few for from
    further get gets getting go goes going gone got gotten had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how
    how's however i i'd i'll i'm i've if in into is isn't it it'd it'll it's its itself
    just least less let let's like made make makes many may maybe me might mine more
    most much must mustn't my myself need needs neither never no nobody none nor not
    nothing now of off often oh ok okay on once one ones only onto or other others
    otherwise ought our ours ourselves out over own per perhaps please put quite rather
    really right said same say says see seem seems shall shan't she she'd she'll she's
    should shouldn't since so some somebody someone something sometimes somewhat soon
    still such sure take than that that'll that's the their theirs them themselves then
    there there's therefore these they they'd they'll they're they've thing things this
    those though through thus till to together too toward towards under until up upon us
    very via was wasn't way we we'd we'll we're we've well went were weren't what what's
    whatever when when's where where's whether which while who who's whoever whom whose
    why why's will with within without won't would wouldn't yeah yep yes yet you you'd
    you'll you're you've your yours yourself yourselves um umm uh uhm uh-huh hmm mhm mm
    ah er erm like actually basically literally gonna wanna gotta kinda sorta kind sort
    stuff lot lots bit guess mean know think thought want wanted good great fine cool
    alright all-right sure anyway totally exactly definitely probably honestly obviously
    also just thank thanks hey hi hello bye today tomorrow yesterday week weeks time
    times day days year years two three four five six seven eight nine ten first second
    third next last new
"""
# The commonest function words of a few other languages, so that their topics and titles
# are not made of "de", "und" or "на"; languages not listed still work, less tidily.
_OTHER_STOPWORDS_TEXT = """
    de la le les des du un une et est en que qui pour pas dans sur au aux ce il elle nous
    vous ils je tu on se ne mais ou avec son sa ses cette été être avoir fait plus très
    el los las del y es por con para una lo como más pero sus al ya muy fue ha han era
    der die das und ist nicht ein eine zu den dem mit sich des auf für im von wir ich sie
    es auch als an bei noch nach wie aber oder dass hat haben wird werden sind war
    o os as um uma do da dos das em no na nos nas por com não mais se foi são ao à
    il lo gli di che è per non con una sono del della nel alla come ma anche
    het een van en is dat op te zijn voor met niet ook maar bij nog wel
    и в во не на что я с со как а то все она так его но да ты к у же вы за бы по
    только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли
    если уже или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего
    ей может они тут где есть надо ней для мы тебя их чем была сам чтобы без будто чего
    раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь
    этом один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при
    наконец два об другой хоть после над больше тот через эти нас про всего них какая
    много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя
    такой им более всегда конечно всю между это
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split()) | frozenset(_OTHER_STOPWORDS_TEXT.split())
